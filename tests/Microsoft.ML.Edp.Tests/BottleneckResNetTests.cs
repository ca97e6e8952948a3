using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Edp.Tests;

/// <summary>ResNet-50-class networks (bottleneck blocks, 1x1 convs of stride 2, 2x2 maps at the end) import, train
/// plainly and compress with the default options. The compressing fit runs in a child process, because on some CPUs
/// libtorch's oneDNN killed the process with SIGFPE inside such a network's backward pass.</summary>
public class BottleneckResNetTests(ITestOutputHelper output)
{
    [Fact]
    public void ABottleneckResNetCompressesWithTheDefaultsInAChildProcessThatExitsNormally()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("edp-bottleneck-").FullName, "bottleneck.onnx");
        File.WriteAllBytes(path, OnnxTestModels.Bottleneck13().Bytes);

        var outcome = ChildProcessProgram.Run("compress-onnx", path);
        output.WriteLine(outcome.Output);

        Assert.True(outcome.ExitCode == 0, $"The child exited with {outcome.ExitCode}:\n{outcome.Output}");
        Assert.Contains("EDP compression report", outcome.Output);
        Assert.Contains("backend: CPU", outcome.Output);
        Assert.DoesNotContain("NNPACK", outcome.Output);
    }

    [Fact]
    public void APlainOddWidthVggTrainsWithoutNaN()
    {
        var options = new EdpCompressOptions
        {
            Architecture = EdpArchitecture.CustomVgg, ConvWidths = [11, 11, 22, 22, 45, 45], Compress = false, Epochs = 2, BatchSize = 32, NumberOfThreads = 2,
        };
        var edp = TinyRun.Fit(options);

        var epochs = edp.Report.Epochs;
        Assert.All(epochs, e => Assert.True(double.IsFinite(e.Loss), $"epoch {e.Epoch} loss {e.Loss}"));
        Assert.True(epochs[^1].Loss < epochs[0].Loss, $"loss {epochs[0].Loss} -> {epochs[^1].Loss}: not training");
        Assert.NotNull(edp.Report.Backend);
        edp.Dispose();
    }
}
