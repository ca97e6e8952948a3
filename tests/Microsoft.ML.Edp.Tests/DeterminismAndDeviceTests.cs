using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Training;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Same seed and data on one thread give the same ONNX bytes; device selection follows the options.</summary>
public class DeterminismAndDeviceTests
{
    [Fact]
    public void SameSeedAndDataOnOneThreadGiveByteIdenticalOnnx()
    {
        using var again = TinyRun.Fit(TinyRun.Options());
        var (reference, report) = CheckpointResumeTests.Reference.Value;
        // The metadata holds the report, whose wall-clock timings differ; everything else must match byte for byte.
        Assert.Equal(TinyRun.WithoutMetadata(reference), TinyRun.WithoutMetadata(again.GetOnnxModel()));
        Assert.Equal(report.Epochs.Select(e => (e.Loss, e.Accuracy, e.LiveMacs)), again.Report.Epochs.Select(e => (e.Loss, e.Accuracy, e.LiveMacs)));
    }

    [Fact]
    public void CpuIsTheDefaultDevice()
    {
        var options = new EdpCompressOptions();
        Assert.Equal(EdpDevice.Cpu, options.Device);
        Assert.Null(options.GpuDeviceId);
        Assert.Equal(DeviceType.CPU, TorchRuntime.SelectDevice(options.Device, options.FallbackToCpu, _ => Assert.Fail("no warning expected")).type);
    }

    [Fact]
    public void MissingGpuWithoutFallbackIsAClearError()
    {
        Assert.False(cuda.is_available(), "this test needs a machine without a usable CUDA GPU");
        var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.SelectDevice(EdpDevice.Cuda, fallbackToCpu: false, _ => { }));
        Assert.Contains("CUDA was requested but TorchSharp reports no usable GPU", e.Message);
        Assert.Contains("FallbackToCpu = true", e.Message);
    }

    [Fact]
    public void MissingGpuWithFallbackWarnsAndTrainsOnTheCpu()
    {
        Assert.False(cuda.is_available(), "this test needs a machine without a usable CUDA GPU");
        var warnings = new List<string>();
        var device = TorchRuntime.SelectDevice(EdpDevice.Cuda, fallbackToCpu: true, warnings.Add);
        Assert.Equal(DeviceType.CPU, device.type);
        Assert.Contains("training on the CPU", Assert.Single(warnings));
    }

    [Fact]
    public void FuzzedOnnxBytesEitherReadOrThrowInvalidDataException()
    {
        var onnx = CheckpointResumeTests.Reference.Value.Onnx;
        Assert.NotNull(EdpModel.ReadReport(onnx));
        var random = new Random(3);
        int read = 0, rejected = 0;
        for (int i = 0; i < 400; i++)
        {
            var mutated = Mutate(onnx, random, i % 4);
            try
            {
                EdpModel.ReadReport(mutated);
                read++;
            }
            catch (InvalidDataException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                rejected++;
            }
        }
        Assert.Equal(400, read + rejected);
        Assert.True(rejected > 0 && read > 0, $"read {read}, rejected {rejected}");
    }

    // Truncation, flipped bytes, a rewritten length-or-dimension varint, and random garbage appended.
    private static byte[] Mutate(byte[] onnx, Random random, int kind)
    {
        var b = (byte[])onnx.Clone();
        switch (kind)
        {
            case 0:
                return b[..random.Next(b.Length)];
            case 1:
                for (int n = random.Next(1, 9); n > 0; n--)
                    b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
                return b;
            case 2:
                int at = random.Next(b.Length - 5);
                b[at] = 0xFF; b[at + 1] = 0xFF; b[at + 2] = 0xFF; b[at + 3] = 0xFF; b[at + 4] = 0x0F;
                return b;
            default:
                var tail = new byte[random.Next(1, 64)];
                random.NextBytes(tail);
                return [.. b, .. tail];
        }
    }
}
