using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>One small function per edit Pruning &amp; Merging makes to a weight.</summary>
internal static class LayerSurgery
{
    /// <summary>Keeps output channels (dim 0) of a weight, a coefficient matrix or a per-channel vector.</summary>
    public static Tensor KeepOutputs(Tensor t, long[] keep) => t.index_select(0, tensor(keep));

    /// <summary>Keeps input channels (dim 1) of a conv or linear weight, or basis columns of a coefficient matrix.</summary>
    public static Tensor KeepInputs(Tensor t, long[] keep) => t.index_select(1, tensor(keep));

    /// <summary>The channels a Split, Slice or shuffle picks (<paramref name="picked"/>, by input channel) once its input
    /// keeps <paramref name="keptInputs"/> and it keeps the places <paramref name="keptOutputs"/>: each kept place's
    /// channel, numbered among the kept inputs.</summary>
    public static long[] KeepPicked(long[] picked, long[] keptInputs, long[] keptOutputs)
    {
        var position = keptInputs.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        return [.. keptOutputs.Select(o => position.TryGetValue(picked[o], out long p) ? p
            : throw new InvalidOperationException($"Place {o} picks input channel {picked[o]}, which is not kept."))];
    }

    /// <summary>Multiplies a CAB pair back into one layer: W = A . B, shaped like B with n outputs.</summary>
    public static Tensor Merge(Tensor coefficients, Tensor basis)
    {
        var shape = basis.shape.ToArray();
        shape[0] = coefficients.shape[0];
        return coefficients.mm(basis.flatten(1)).view(shape);
    }

    /// <summary>Folds inference-mode BN into the layer before it: W' = W * s and b' = beta + (b - mean) * s, with
    /// s = gamma / sqrt(var + eps) per output channel and b the layer's own bias (0 without one).</summary>
    public static (Tensor Weight, Tensor Bias) FoldBatchNorm(Tensor weight, Tensor? bias, Tensor gamma, Tensor beta, Tensor mean, Tensor variance, double eps)
    {
        var scale = gamma / (variance + eps).sqrt();
        var broadcast = scale.view([scale.shape[0], .. Enumerable.Repeat(1L, (int)weight.dim() - 1)]);
        return (weight * broadcast, beta + (bias is null ? -mean : bias - mean) * scale);
    }
}
