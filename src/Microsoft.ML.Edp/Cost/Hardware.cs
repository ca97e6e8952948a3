using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Edp.Cost;

/// <summary>The facts about the scoring machine that inference latency depends on: the CPU, the channel block of ONNX
/// Runtime's blocked (NCHWc) conv kernels on it, and the ONNX Runtime version.</summary>
/// <remarks>MLAS, ONNX Runtime's CPU math library, picks a block of 16 channels where AVX-512F is present and 8
/// otherwise (core/mlas/lib/platform.cpp). Output channels are padded up to the block, and a conv whose input channels
/// are not a multiple of it (beyond the first layer) leaves the blocked path for im2col and SGEMM, with layout
/// reorders around it; so widths in multiples of the block run at the speed their MACs promise and others do not.</remarks>
internal sealed record Hardware(string Cpu, int ConvBlock, string OnnxRuntimeVersion)
{
    private static readonly Lazy<Hardware> Detected = new(() =>
        new Hardware(MachineIdentity.CpuDescription, Avx512F.IsSupported ? 16 : 8, OrtEnv.Instance().GetVersionString()));

    /// <summary>This machine, read once per process. The CPU is named as the report names it (vendor, model name,
    /// family, model and stepping), so a table measured on one CPU model is not taken for another's.</summary>
    public static Hardware Current => Detected.Value;

    /// <summary>The kept-channel multiple to use when the user leaves <see cref="EdpCompressOptions.ChannelMultiple"/>
    /// unset: the CPU's conv block.</summary>
    public static int ChannelMultiple(int? chosen) => chosen ?? Current.ConvBlock;

    /// <summary>One line naming the machine, for logs and reports.</summary>
    public override string ToString() => $"{Cpu}, conv block {ConvBlock}, ONNX Runtime {OnnxRuntimeVersion}";
}
