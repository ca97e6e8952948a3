using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;

namespace Microsoft.ML.Edp.Groups;

/// <summary>The groups of one compressed-aware block: what the proximal step shrinks, what importance is measured on
/// and what Pruning &amp; Merging removes together (Torch-Pruning's <c>Group</c>, for the two kinds a CAB has).</summary>
/// <remarks>Rank groups are the columns of A. Channel groups are the rows of A together with that channel's BN gamma
/// and beta (and the layer's own bias, if any), so that a removed channel emits exactly zero after BN and ReLU, not a
/// constant. Layers whose channels are coupled to others (a classifier's classes, a residual sum) have no channel
/// groups (<see cref="ChannelCoupling.Prunable"/>).</remarks>
/// <param name="Name">The layer's name.</param>
/// <param name="Weight">The block: its coefficients A carry both kinds of group.</param>
/// <param name="HasChannelGroups">Whether the layer's output channels may be removed.</param>
/// <param name="Norm">The BN whose gamma and beta join the channel groups.</param>
/// <param name="Bias">The layer's own bias, which joins the channel groups.</param>
internal sealed record LayerGroups(string Name, CompressedWeight Weight, bool HasChannelGroups, BatchNorm? Norm = null, Parameter? Bias = null)
{
    /// <summary>Every compressed-aware block of the network with its groups, in graph order.</summary>
    public static IReadOnlyList<LayerGroups> Of(EdpNet net)
        => ChannelCoupling.Analyse(net.Graph).Select(c => Of(net, c)).OfType<LayerGroups>().ToList();

    /// <summary>The groups of one conv or linear layer; null for a plain layer, which has none.</summary>
    public static LayerGroups? Of(EdpNet net, ChannelCoupling coupling)
    {
        var weighted = net.Weighted[coupling.Layer.Name];
        if (weighted.weight is not CompressedWeight cab)
            return null;
        return new LayerGroups(coupling.Layer.Name, cab, coupling.Prunable,
            coupling.Prunable && coupling.Norm is { } norm ? net.Norms[norm.Name] : null, coupling.Prunable ? weighted.bias : null);
    }
}
