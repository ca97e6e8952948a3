using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The L2,1 proximal step on a CAB's coefficients A (on the weight of a compressed layer that trains plain)
/// after each optimizer step: every group's L2 norm shrinks by the step's shrink (times the group's weight), and a
/// group whose norm is below it becomes exactly zero. A subgradient penalty in the loss never reaches exact zeros; this
/// does. The groups are <see cref="LayerGroups"/>.</summary>
/// <param name="layers">The layers' groups, in graph order.</param>
/// <param name="channelGroup">What a channel group's norm is measured on.</param>
/// <param name="weights">Per-group shrink weights, one entry per layer; null weighs every group 1.</param>
internal sealed class ProximalGroupLasso(IReadOnlyList<LayerGroups> layers, EdpChannelGroup channelGroup = EdpChannelGroup.CoefficientsAndBatchNorm,
    IReadOnlyList<ShrinkWeights>? weights = null)
{
    private List<(Tensor Rows, Tensor? Columns)>? _frozen;
    private (Tensor? Rows, Tensor? Columns)[]? _targets;

    /// <summary>The layers and their groups, in graph order.</summary>
    public IReadOnlyList<LayerGroups> Groups => layers;

    public static ProximalGroupLasso For(EdpNet net, EdpPenaltyWeighting weighting, EdpChannelGroup channelGroup)
    {
        var layers = LayerGroups.Of(net);
        return new(layers, channelGroup, PenaltyWeights.For(layers, net.Graph, weighting));
    }

    /// <summary>Whether <see cref="Freeze"/> has fixed the sparsity pattern.</summary>
    public bool IsFrozen => _frozen is not null;

    /// <param name="rankShrink">lr * RankPenalty * s(t).</param>
    /// <param name="channelShrink">lr * ChannelPenalty * s(t).</param>
    public void Step(double rankShrink, double channelShrink)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < layers.Count; i++)
        {
            using var scope = NewDisposeScope();
            var layer = layers[i];
            if (_frozen is { } masks)
            {
                // Zero groups stay zero (momentum would otherwise revive them); live groups are no longer shrunk.
                GroupZeroing.Scale(layer, masks[i].Rows, masks[i].Columns);
                continue;
            }
            var weight = weights?[i];
            var (targetRows, targetColumns) = _targets?[i] ?? (null, null);
            if (channelShrink > 0 && layer.HasChannelGroups && (_targets is null || targetRows is not null))
            {
                var factor = Shrink(GroupNorms.ChannelSquared(layer, channelGroup).sqrt(), channelShrink, weight?.Channel, targetRows);
                if (channelGroup == EdpChannelGroup.BatchNorm && layer.Norm is not null)
                {
                    GroupZeroing.ScaleAffine(layer, factor);
                    // A removed channel's rows go to zero everywhere, so that it emits zero even in a member of the
                    // layer's residual stream (or a follower) with no BN of its own.
                    GroupZeroing.Scale(layer, factor.gt(0).to(layer.Weight.Rows.dtype), null);
                }
                else
                    GroupZeroing.Scale(layer, factor, null);
            }
            if (rankShrink > 0 && GroupNorms.RankSquared(layer) is { } rankSquared && (_targets is null || targetColumns is not null))
                GroupZeroing.Scale(layer, null, Shrink(rankSquared.sqrt(), rankShrink, weight?.Rank, targetColumns));
        }
    }

    /// <summary>From now on shrink only the groups a plan drops (<see cref="ImportanceSelection"/>), leaving the kept
    /// ones to train without penalty: <paramref name="kept"/> holds each layer's kept output channels and basis filters,
    /// null for "drop none of this kind".</summary>
    public void Target(IReadOnlyDictionary<string, KeptGroups> kept)
    {
        ClearTargets();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _targets = layers.Select(layer =>
        {
            var k = kept.GetValueOrDefault(layer.Name);
            var device = layer.Weight.Rows.device;
            return (Dropped(layer.Weight.OutChannels, k.Outputs, device), Dropped(layer.Weight.Rank, k.Rank, device));
        }).ToArray();
    }

    /// <summary>The target masks by name (null when every group is shrunk), for a checkpoint.</summary>
    public IReadOnlyDictionary<string, Tensor>? TargetMasks => _targets is null ? null : ByName(_targets);

    /// <summary>Restores target masks read from <see cref="TargetMasks"/>.</summary>
    public void RestoreTargets(IReadOnlyDictionary<string, Tensor> masks)
    {
        ClearTargets();
        using var scope = NewDisposeScope();
        _targets = layers.Select(layer =>
        {
            var device = layer.Weight.Rows.device;
            Tensor? Read(string name) => masks.TryGetValue(name, out var m) ? m.to(device).clone().DetachFromDisposeScope() : null;
            return (Read($"{layer.Name}.rows"), Read($"{layer.Name}.columns"));
        }).ToArray();
    }

    private void ClearTargets()
    {
        foreach (var (rows, columns) in _targets ?? [])
        {
            rows?.Dispose();
            columns?.Dispose();
        }
    }

    /// <summary>1 for every group not in <paramref name="kept"/>; null when none is dropped.</summary>
    private static Tensor? Dropped(long size, long[]? kept, Device device)
    {
        if (kept is null || kept.Length == size)
            return null;
        var mask = ones(size, device: device);
        if (kept.Length > 0)
            mask.index_fill_(0, tensor(kept, device: device), 0);
        return mask.DetachFromDisposeScope();
    }

    /// <summary>Fixes the current sparsity pattern: from now on <see cref="Step"/> only keeps zero groups at zero.</summary>
    public void Freeze()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _frozen = layers.Select(layer =>
        {
            var dtype = layer.Weight.Rows.dtype;
            var rows = GroupNorms.ChannelSquared(layer, EdpChannelGroup.CoefficientsAndBatchNorm).gt(0).to(dtype);
            var columns = GroupNorms.RankSquared(layer)?.gt(0).to(dtype);
            return (rows.DetachFromDisposeScope(), columns?.DetachFromDisposeScope());
        }).ToList();
    }

    /// <summary>The frozen masks by name (null before <see cref="Freeze"/>), for a checkpoint: recomputing them from
    /// the weights at resume time could differ from the pattern fixed at the freeze.</summary>
    public IReadOnlyDictionary<string, Tensor>? FrozenMasks => _frozen is null ? null : ByName(_frozen.Select(m => ((Tensor?)m.Rows, m.Columns)));

    /// <summary>Per-layer row and column masks under the names a checkpoint stores them by (absent masks left out).</summary>
    private Dictionary<string, Tensor> ByName(IEnumerable<(Tensor? Rows, Tensor? Columns)> masks) => masks
        .SelectMany((m, i) => new[] { ($"{layers[i].Name}.rows", m.Rows), ($"{layers[i].Name}.columns", m.Columns) })
        .Where(e => e.Item2 is not null).ToDictionary(e => e.Item1, e => e.Item2!);

    /// <summary>Restores masks read from <see cref="FrozenMasks"/>, moved to the coefficients' device.</summary>
    public void Restore(IReadOnlyDictionary<string, Tensor> masks)
    {
        _frozen = layers.Select(layer =>
        {
            var device = layer.Weight.Rows.device;
            return (Mask(masks, $"{layer.Name}.rows").to(device), layer.Weight.Columns is null ? null : Mask(masks, $"{layer.Name}.columns").to(device));
        }).ToList();
    }

    private static Tensor Mask(IReadOnlyDictionary<string, Tensor> masks, string name)
        => masks.TryGetValue(name, out var m) ? m : throw new InvalidDataException($"no frozen mask '{name}'");

    /// <summary>max(0, 1 - t w m / ||g||): zero for a zero group or one under its shrink; one where the target mask m
    /// is 0.</summary>
    private static Tensor Shrink(Tensor norms, double t, float[]? weights, Tensor? targets = null)
    {
        var shrink = weights is null ? (Tensor)t : tensor(weights, device: norms.device) * t;
        if (targets is not null)
            shrink = shrink * targets;
        return (1 - shrink / norms).clamp_min(0).nan_to_num(0);
    }
}
