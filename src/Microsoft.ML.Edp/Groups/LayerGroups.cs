using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Groups;

/// <summary>The groups of one compressed layer: what the proximal step shrinks, what importance is measured on and what
/// Pruning &amp; Merging removes together (Torch-Pruning's <c>Group</c>, for the two kinds a CAB has).</summary>
/// <remarks>Rank groups are the columns of A. Channel groups are the rows of A (of the weight, for a compressed layer
/// that trains plain, <see cref="WeightLayer.Factored"/>, and has no rank groups) together with that channel's BN gamma
/// and beta (and the layer's own bias, if any), so that a removed channel emits exactly zero after BN and ReLU, not a
/// constant. Layers whose channels are coupled to others that cannot go with them (a classifier's classes, the graph
/// output) have no channel groups (<see cref="ChannelCoupling.Prunable"/>). The members of a residual stream share one
/// channel group per channel: its owner's (<see cref="ResidualStream.Owner"/>) holds every other member's rows, BN and
/// bias as followers, and the others have rank groups only.</remarks>
/// <param name="Name">The layer's name.</param>
/// <param name="Weight">The block, whose coefficients A carry both kinds of group, or the plain layer's weight.</param>
/// <param name="HasChannelGroups">Whether the layer holds channel groups: its output channels may be removed, and
/// with those of its residual stream's other members where it owns the stream's groups.</param>
/// <param name="Units">The units channel groups are tied in: each one's norm and importance are its unit's (every
/// channel its own without channel groups).</param>
/// <param name="Norm">The BN whose gamma and beta join the channel groups.</param>
/// <param name="Bias">The layer's own bias, which joins the channel groups.</param>
/// <param name="Followers">The depthwise and other grouped convs on the layer's channels, and the other members of its
/// residual stream: each channel's filter (or row of A), bias and BN gamma and beta join the channel's group.</param>
/// <param name="StreamMembers">How many layers' output channels the channel groups remove: the layer's own (1), or, for
/// the owner of a residual stream, every member's.</param>
internal sealed record LayerGroups(string Name, LayerWeight Weight, bool HasChannelGroups, ChannelUnits Units, BatchNorm? Norm = null,
    Parameter? Bias = null, IReadOnlyList<Follower>? Followers = null, int StreamMembers = 1)
{
    /// <summary>Every compressed layer of the network that has groups, with its groups, in graph order.</summary>
    public static IReadOnlyList<LayerGroups> Of(EdpNet net)
        => ChannelCoupling.Analyse(net.Graph).Select(c => Of(net, c)).OfType<LayerGroups>().ToList();

    /// <summary>The groups of one conv or linear layer; null for a layer that has none: one not compressed, or one that
    /// trains plain without channel groups of its own.</summary>
    public static LayerGroups? Of(EdpNet net, ChannelCoupling coupling)
    {
        if (!coupling.Layer.Compressed)
            return null;
        var weighted = net.Weighted[coupling.Layer.Name];
        var weight = weighted.weight;
        if (!coupling.Prunable || coupling.Stream is { } s && s.Owner != coupling.Layer.Name)
            return weight.Columns is null ? null : new LayerGroups(coupling.Layer.Name, weight, false, ChannelUnits.Singles(weight.OutChannels));
        var followers = coupling.Followers.Select(f => Follower.Of(net, f.Conv, f.Norm, f.Positions))
            .Concat(coupling.Stream?.Members.Where(m => m.Layer.Name != coupling.Layer.Name).Select(m => Follower.Member(net, m.Layer, m.Norm)) ?? []);
        return new LayerGroups(coupling.Layer.Name, weight, true, coupling.Units, coupling.Norm is { } norm ? net.Norms[norm.Name] : null, weighted.bias,
            followers.ToList(), coupling.Stream?.Members.Count ?? 1);
    }

    /// <summary>Each channel's value summed over its unit (<see cref="ChannelUnits.Tied"/>).</summary>
    public Tensor Tied(Tensor perChannel) => Units.Tied(perChannel);
}

/// <summary>The part of a depthwise or other grouped conv that joins its producer's channel groups: producer channel c
/// is the conv's channel <c>Positions[i]</c> where <c>Channels[i]</c> is c (past a Concat, Split, Slice or shuffle), and
/// each one's filter, bias and BN gamma and beta join that channel's group. Producer channels that do not reach the
/// conv have no part in it. Another member of a residual stream joins its owner's groups the same way, channel for
/// channel, with its rows of A (or of its weight, for a plain layer) as the filter.</summary>
internal sealed record Follower(Parameter Weight, Parameter? Bias, BatchNorm? Norm, long[] Channels, long[] Positions, long Count)
{
    /// <summary>The tensors of a grouped conv, which is always a plain layer, and of its BN; <paramref name="positions"/>
    /// holds where each producer channel lands in the conv (-1 where it does not).</summary>
    public static Follower Of(EdpNet net, ConvLayer conv, BatchNormLayer? norm, long[] positions)
    {
        var layer = net.Weighted[conv.Name];
        var weight = layer.weight is PlainWeight plain ? plain.weight
            : throw new InvalidOperationException($"The grouped conv '{conv.Name}' must be a plain layer.");
        var channels = Enumerable.Range(0, positions.Length).Where(c => positions[c] >= 0).Select(c => (long)c).ToArray();
        return new Follower(weight, layer.bias, norm is null ? null : net.Norms[norm.Name], channels, [.. channels.Select(c => positions[c])], positions.Length);
    }

    /// <summary>The tensors of a member of a residual stream other than its owner: its coefficients A (its weight, for a
    /// plain layer), bias and BN, channel c at c.</summary>
    public static Follower Member(EdpNet net, WeightLayer member, BatchNormLayer? norm)
    {
        var layer = net.Weighted[member.Name];
        long[] channels = GroupSelection.All(member.Outputs);
        return new Follower(layer.weight.Rows, layer.bias, norm is null ? null : net.Norms[norm.Name], channels, channels, channels.Length);
    }

    /// <summary>The squared norm of each channel's part: the filter (unless <paramref name="affineOnly"/>, as the
    /// layer's own row of A is left out then), the bias, and BN's gamma and beta.</summary>
    public Tensor ChannelSquared(bool affineOnly)
    {
        var rows = affineOnly ? zeros(Channels.Length, device: Weight.device) : Part(Weight).Squared().flatten(1).sum(1);
        if (Norm is { } bn)
            rows = rows + Part(bn.weight!).Squared() + Part(bn.bias!).Squared();
        return Spread(Bias is { } bias ? rows + Part(bias).Squared() : rows);
    }

    /// <summary>The sum of p * dL/dp over each channel's part, for the first-order importance of its group.</summary>
    public Tensor ChannelProducts()
    {
        var rows = Weight.grad is { } gradient ? (Part(Weight) * Part(gradient)).flatten(1).sum(1) : zeros(Channels.Length, device: Weight.device);
        if (Norm is { } bn)
            rows = rows + Products(bn.weight!) + Products(bn.bias!);
        return Spread(Bias is { } bias ? rows + Products(bias) : rows);
    }

    /// <summary>Multiplies each channel's filter by <paramref name="rows"/>.</summary>
    public void ScaleFilters(Tensor rows) => GroupZeroing.ScaleRows(Weight, Factors(rows));

    /// <summary>Multiplies each channel's bias and BN gamma and beta by <paramref name="rows"/>.</summary>
    public void ScaleAffine(Tensor rows)
    {
        var factors = Factors(rows);
        Bias?.mul_(factors);
        if (Norm is { } bn)
        {
            bn.weight!.mul_(factors);
            bn.bias!.mul_(factors);
        }
    }

    /// <summary>The rows of a per-channel tensor of the conv that the producer's channels reach, in
    /// <see cref="Channels"/> order.</summary>
    private Tensor Part(Tensor t) => t.index_select(0, tensor(Positions, device: t.device));

    /// <summary>Rows in <see cref="Channels"/> order at the producer's channels, zero at those that do not reach the conv.</summary>
    private Tensor Spread(Tensor rows)
        => zeros(Count, dtype: rows.dtype, device: rows.device).index_copy_(0, tensor(Channels, device: rows.device), rows);

    /// <summary>Per-channel factors of the producer as factors of the conv's channels: 1 where none of them lands.</summary>
    private Tensor Factors(Tensor rows)
        => ones(Weight.shape[0], dtype: rows.dtype, device: rows.device)
            .index_copy_(0, tensor(Positions, device: rows.device), rows.index_select(0, tensor(Channels, device: rows.device)));

    private Tensor Products(Tensor t) => t.grad is { } gradient ? Part(t) * Part(gradient) : zeros(Channels.Length, device: t.device);
}
