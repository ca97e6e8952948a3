using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Groups;

/// <summary>The L2 norms of a layer's groups, which the proximal step shrinks and Pruning &amp; Merging thresholds.</summary>
internal static class GroupNorms
{
    /// <summary>Squared rank-group norms: the columns of A; null for a plain layer, which has no rank groups.</summary>
    public static Tensor? RankSquared(LayerGroups layer) => layer.Weight.Columns?.Squared().sum(dim: 0);

    /// <summary>Squared channel-group norms: the rows of A (of the weight, for a plain layer) with BN gamma and beta, the
    /// bias and the followers' parts; with <see cref="EdpChannelGroup.BatchNorm"/> (and a BN to measure), the affine part
    /// only. A channel tied in a unit has its unit's norm.</summary>
    public static Tensor ChannelSquared(LayerGroups layer, EdpChannelGroup group)
    {
        var rows = layer.Weight.Rows.Squared().flatten(1).sum(1);
        bool affineOnly = group == EdpChannelGroup.BatchNorm && layer.Norm is not null;
        if (layer.Norm is { } bn)
        {
            var affine = bn.weight!.Squared() + bn.bias!.Squared();
            rows = affineOnly ? affine : rows + affine;
        }
        foreach (var follower in layer.Followers ?? [])
            rows = rows + follower.ChannelSquared(affineOnly);
        return layer.Tied(layer.Bias is { } bias ? rows + bias.Squared() : rows);
    }

    /// <summary>The current norms of a layer's rank groups and channel groups (null where it has none of the kind),
    /// copied to the CPU.</summary>
    public static (float[]? Rank, float[]? Channel) Of(LayerGroups layer, EdpChannelGroup channelGroup)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var rank = RankSquared(layer)?.sqrt().cpu().data<float>().ToArray();
        var channel = layer.HasChannelGroups ? ChannelSquared(layer, channelGroup).sqrt().cpu().data<float>().ToArray() : null;
        return (rank, channel);
    }
}
