using System.Runtime.Intrinsics.X86;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Edp.Cost;

/// <summary>The facts about the scoring machine that inference latency depends on: the CPU, the channel block of ONNX
/// Runtime's blocked (NCHWc) conv kernels on it, and the ONNX Runtime version.</summary>
/// <remarks>MLAS, ONNX Runtime's CPU math library, picks a block of 16 channels where AVX-512F is present and 8
/// otherwise (core/mlas/lib/platform.cpp). Output channels are padded up to the block, and a conv whose input channels
/// are not a multiple of it (beyond the first layer) leaves the blocked path for im2col and SGEMM, with layout
/// reorders around it; so widths in multiples of the block run at the speed their MACs promise and others do not.</remarks>
internal sealed record Hardware(string CpuVendor, string CpuModel, int ConvBlock, string OnnxRuntimeVersion)
{
    private static readonly Lazy<Hardware> Detected = new(Detect);

    /// <summary>This machine, read once per process.</summary>
    public static Hardware Current => Detected.Value;

    /// <summary>The kept-channel multiple to use when the user leaves <see cref="EdpCompressOptions.ChannelMultiple"/>
    /// unset: the CPU's conv block.</summary>
    public static int ChannelMultiple(int? chosen) => chosen ?? Current.ConvBlock;

    /// <summary>One line naming the machine, for logs and reports.</summary>
    public override string ToString() => $"{CpuVendor} {CpuModel}, conv block {ConvBlock}, ONNX Runtime {OnnxRuntimeVersion}";

    private static Hardware Detect()
    {
        var (vendor, model) = ReadCpuInfo();
        int block = Avx512F.IsSupported ? 16 : 8;
        return new Hardware(vendor, model, block, OrtEnv.Instance().GetVersionString());
    }

    /// <summary>Vendor and model name from /proc/cpuinfo on Linux; elsewhere the processor architecture and what the
    /// environment says (Windows sets PROCESSOR_IDENTIFIER).</summary>
    private static (string Vendor, string Model) ReadCpuInfo()
    {
        string? vendor = null, model = null;
        if (File.Exists("/proc/cpuinfo"))
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                var parts = line.Split(':', 2);
                if (parts.Length != 2)
                    continue;
                string key = parts[0].Trim(), value = parts[1].Trim();
                if (key == "vendor_id")
                    vendor ??= value;
                else if (key == "model name")
                    model ??= value;
                if (vendor is not null && model is not null)
                    break;
            }
        model ??= Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER");
        return (vendor ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(), model ?? "unknown CPU");
    }
}
