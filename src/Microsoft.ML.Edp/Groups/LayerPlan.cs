using Microsoft.ML.Edp.Cost;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What Pruning &amp; Merging does to one layer: which inputs, outputs and basis filters stay (<c>KeptRank</c> is
/// null for a plain layer), and whether the pair merges back into one layer, as <c>MergeRule</c>'s cost says.
/// <c>PerChannelParams</c> counts the BN and bias parameters each output channel carries.</summary>
internal sealed record LayerPlan(
    string Name, bool IsConv, long[] OriginalShape, long OutputPixels,
    long[] KeptInputs, long[] KeptOutputs, long[]? KeptRank, int PerChannelParams, CostModel MergeRule)
{
    /// <summary>k^2 for a conv, 1 for a linear layer.</summary>
    public long KernelArea => IsConv ? OriginalShape[2] * OriginalShape[3] : 1;

    /// <summary>True when the kept pair costs no less than one layer, so PM multiplies it back into one.</summary>
    public bool Merged => KeptRank is { } r && !MergeRule.PairIsCheaper(this, r.Length);

    /// <summary>The kept rank where the layer runs as the basis and coefficient pair; null where it runs as one layer.</summary>
    public long? PairRank => KeptRank is { } r && !Merged ? r.Length : null;

    public LayerCost Before => Cost(OriginalShape[0], OriginalShape[1], null);

    public LayerCost After => Cost(KeptOutputs.Length, KeptInputs.Length, PairRank);

    /// <summary>Parameters and MACs of this layer from c to n channels, as one layer or, with a rank, as the pair.</summary>
    public LayerCost Cost(long n, long c, long? rank)
        => IsConv ? LayerCost.Conv(n, c, OriginalShape[2], OutputPixels, rank, PerChannelParams) : LayerCost.Linear(n, c, rank, PerChannelParams);
}
