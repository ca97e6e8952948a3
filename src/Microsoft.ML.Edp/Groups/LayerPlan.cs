using Microsoft.ML.Edp.Cost;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What Pruning &amp; Merging does to one layer: which inputs, outputs and basis filters stay (<c>KeptRank</c> is
/// null for a plain layer), and whether the pair merges back into one layer. <c>PerChannelParams</c> counts the BN
/// and bias parameters each output channel carries.</summary>
internal sealed record LayerPlan(
    string Name, bool IsConv, long[] OriginalShape, long OutputPixels,
    long[] KeptInputs, long[] KeptOutputs, long[]? KeptRank, int PerChannelParams)
{
    private long KernelArea => IsConv ? OriginalShape[2] * OriginalShape[3] : 1;

    /// <summary>True when the kept pair is no cheaper than one layer, so PM multiplies it back into one.</summary>
    public bool Merged => KeptRank is { } r && !LayerCost.PairIsCheaper(KeptOutputs.Length, KeptInputs.Length, KernelArea, r.Length);

    public LayerCost Before => Cost(OriginalShape[0], OriginalShape[1], null);

    public LayerCost After => Cost(KeptOutputs.Length, KeptInputs.Length, KeptRank is { } r && !Merged ? r.Length : null);

    private LayerCost Cost(long n, long c, long? rank)
        => IsConv ? LayerCost.Conv(n, c, OriginalShape[2], OutputPixels, rank, PerChannelParams) : LayerCost.Linear(n, c, rank, PerChannelParams);
}
