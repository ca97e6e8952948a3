using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;
using static TorchSharp.torch;

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
/// <param name="Followers">The depthwise convs on the layer's channels: each channel's filter, bias and BN gamma and
/// beta join that channel's group.</param>
internal sealed record LayerGroups(string Name, CompressedWeight Weight, bool HasChannelGroups, BatchNorm? Norm = null, Parameter? Bias = null,
    IReadOnlyList<Follower>? Followers = null)
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
            coupling.Prunable && coupling.Norm is { } norm ? net.Norms[norm.Name] : null, coupling.Prunable ? weighted.bias : null,
            coupling.Prunable ? coupling.Followers.Select(f => Follower.Of(net, f.Conv, f.Norm, f.Offset, cab.OutChannels)).ToList() : null);
    }
}

/// <summary>The part of a depthwise conv that joins its producer's channel groups: the producer's channels start at
/// <paramref name="Offset"/> in the conv's input (past a Concat), and each one's filter [1, k, k], bias and BN gamma and
/// beta join that channel's group.</summary>
internal sealed record Follower(Parameter Weight, Parameter? Bias, BatchNorm? Norm, long Offset, long Count)
{
    /// <summary>The tensors of a depthwise conv, which is always a plain layer, and of its BN.</summary>
    public static Follower Of(EdpNet net, ConvLayer conv, BatchNormLayer? norm, long offset, long count)
    {
        var layer = net.Weighted[conv.Name];
        var weight = layer.weight is PlainWeight plain ? plain.weight
            : throw new InvalidOperationException($"The depthwise conv '{conv.Name}' must be a plain layer.");
        return new Follower(weight, layer.bias, norm is null ? null : net.Norms[norm.Name], offset, count);
    }

    /// <summary>The squared norm of each channel's part: the filter (unless <paramref name="affineOnly"/>, as the
    /// layer's own row of A is left out then), the bias, and BN's gamma and beta.</summary>
    public Tensor ChannelSquared(bool affineOnly)
    {
        var rows = affineOnly ? zeros(Count, device: Weight.device) : Part(Weight).Squared().flatten(1).sum(1);
        if (Norm is { } bn)
            rows = rows + Part(bn.weight!).Squared() + Part(bn.bias!).Squared();
        return Bias is { } bias ? rows + Part(bias).Squared() : rows;
    }

    /// <summary>The sum of p * dL/dp over each channel's part, for the first-order importance of its group.</summary>
    public Tensor ChannelProducts()
    {
        var rows = Weight.grad is { } gradient ? (Part(Weight) * Part(gradient)).flatten(1).sum(1) : zeros(Count, device: Weight.device);
        if (Norm is { } bn)
            rows = rows + Products(bn.weight!) + Products(bn.bias!);
        return Bias is { } bias ? rows + Products(bias) : rows;
    }

    /// <summary>Multiplies each channel's filter by <paramref name="rows"/>.</summary>
    public void ScaleFilters(Tensor rows) => Part(Weight).mul_(rows.view(-1, 1, 1, 1));

    /// <summary>Multiplies each channel's bias and BN gamma and beta by <paramref name="rows"/>.</summary>
    public void ScaleAffine(Tensor rows)
    {
        if (Bias is { } bias)
            Part(bias).mul_(rows);
        if (Norm is { } bn)
        {
            Part(bn.weight!).mul_(rows);
            Part(bn.bias!).mul_(rows);
        }
    }

    /// <summary>The producer's channels of a per-channel tensor: a view, so scaling it scales the parameter.</summary>
    private Tensor Part(Tensor t) => t.narrow(0, Offset, Count);

    private Tensor Products(Tensor t) => t.grad is { } gradient ? Part(t) * Part(gradient) : zeros(Count, device: t.device);
}
