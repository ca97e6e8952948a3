using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The L2,1 proximal step on a CAB's coefficients A after each optimizer step: every group's L2 norm shrinks
/// by the step's shrink (times the group's weight), and a group whose norm is below it becomes exactly zero. A
/// subgradient penalty in the loss never reaches exact zeros; this does.</summary>
/// <remarks>Rank groups are the columns of A. Channel groups are the rows of A together with that channel's BN gamma
/// and beta (and the layer's own bias, if any), so that a pruned channel emits exactly zero after BN and ReLU, not a
/// constant. Layers whose channels are coupled to others (a classifier's classes, a residual sum) have no channel
/// groups.</remarks>
internal sealed class ProximalGroupLasso(IReadOnlyList<ProximalGroupLasso.Layer> layers, EdpChannelGroup channelGroup = EdpChannelGroup.CoefficientsAndBatchNorm)
{
    /// <summary>A compressed layer; whether it has channel groups; the BN and the bias that share them; per-group shrink
    /// weights (null for 1).</summary>
    public sealed record Layer(string Name, CompressedWeight Weight, bool HasChannelGroups, BatchNorm? Norm = null, Parameter? Bias = null,
        float[]? RankWeights = null, float[]? ChannelWeights = null);

    private List<(Tensor Rows, Tensor Columns)>? _frozen;
    private (Tensor? Rows, Tensor? Columns)[]? _targets;

    /// <summary>The layers and their groups, in graph order.</summary>
    public IReadOnlyList<Layer> Groups => layers;

    public static ProximalGroupLasso For(EdpNet net, EdpPenaltyWeighting weighting, EdpChannelGroup channelGroup)
        => new(PenaltyWeights.Apply(Layers(net), net.Graph, weighting), channelGroup);

    /// <summary>Every compressed-aware block of the network with its groups, in graph order.</summary>
    public static IReadOnlyList<Layer> Layers(EdpNet net)
        => ChannelCoupling.Analyse(net.Graph).Select(c => LayerOf(net, c)).OfType<Layer>().ToList();

    /// <summary>The groups of one conv or linear layer; null for a plain layer, which has none.</summary>
    public static Layer? LayerOf(EdpNet net, ChannelCoupling coupling)
    {
        var weighted = net.Weighted[coupling.Layer.Name];
        if (weighted.weight is not CompressedWeight cab)
            return null;
        return new Layer(coupling.Layer.Name, cab, coupling.Prunable,
            coupling.Prunable && coupling.Norm is { } norm ? net.Norms[norm.Name] : null, coupling.Prunable ? weighted.bias : null);
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
            var a = layer.Weight.coefficients;
            if (_frozen is { } masks)
            {
                // Zero groups stay zero (momentum would otherwise revive them); live groups are no longer shrunk.
                Scale(layer, masks[i].Rows, masks[i].Columns);
                continue;
            }
            var (targetRows, targetColumns) = _targets?[i] ?? (null, null);
            if (channelShrink > 0 && layer.HasChannelGroups && (_targets is null || targetRows is not null))
            {
                var factor = Shrink(ChannelNormsSquared(layer, channelGroup).sqrt(), channelShrink, layer.ChannelWeights, targetRows);
                if (channelGroup == EdpChannelGroup.BatchNorm && layer.Norm is not null)
                {
                    ScaleAffine(layer, factor);
                    a.mul_(factor.gt(0).to(a.dtype).unsqueeze(1));
                }
                else
                    Scale(layer, factor, null);
            }
            if (rankShrink > 0 && (_targets is null || targetColumns is not null))
                Scale(layer, null, Shrink(a.square().sum(dim: 0).sqrt(), rankShrink, layer.RankWeights, targetColumns));
        }
    }

    /// <summary>From now on shrink only the groups a plan drops (<see cref="ImportanceSelection"/>), leaving the kept
    /// ones to train without penalty: <paramref name="kept"/> holds each layer's kept output channels and basis filters,
    /// null for "drop none of this kind".</summary>
    public void Target(IReadOnlyDictionary<string, (long[]? Outputs, long[]? Rank)> kept)
    {
        ClearTargets();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _targets = layers.Select(layer =>
        {
            var k = kept.GetValueOrDefault(layer.Name);
            var a = layer.Weight.coefficients;
            return (Dropped(a.shape[0], k.Outputs, a.device), Dropped(a.shape[1], k.Rank, a.device));
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
            var device = layer.Weight.coefficients.device;
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
            var a = layer.Weight.coefficients;
            var rows = ChannelNormsSquared(layer, EdpChannelGroup.CoefficientsAndBatchNorm).gt(0).to(a.dtype);
            var columns = a.square().sum(dim: 0).gt(0).to(a.dtype);
            return (rows.DetachFromDisposeScope(), columns.DetachFromDisposeScope());
        }).ToList();
    }

    /// <summary>The frozen masks by name (null before <see cref="Freeze"/>), for a checkpoint: recomputing them from
    /// the weights at resume time could differ from the pattern fixed at the freeze.</summary>
    public IReadOnlyDictionary<string, Tensor>? FrozenMasks => _frozen is null ? null : ByName(_frozen.Select(m => ((Tensor?)m.Rows, (Tensor?)m.Columns)));

    /// <summary>Per-layer row and column masks under the names a checkpoint stores them by (absent masks left out).</summary>
    private Dictionary<string, Tensor> ByName(IEnumerable<(Tensor? Rows, Tensor? Columns)> masks) => masks
        .SelectMany((m, i) => new[] { ($"{layers[i].Name}.rows", m.Rows), ($"{layers[i].Name}.columns", m.Columns) })
        .Where(e => e.Item2 is not null).ToDictionary(e => e.Item1, e => e.Item2!);

    /// <summary>Restores masks read from <see cref="FrozenMasks"/>, moved to the coefficients' device.</summary>
    public void Restore(IReadOnlyDictionary<string, Tensor> masks)
    {
        _frozen = layers.Select(layer =>
        {
            var device = layer.Weight.coefficients.device;
            return (Mask(masks, $"{layer.Name}.rows").to(device), Mask(masks, $"{layer.Name}.columns").to(device));
        }).ToList();
    }

    private static Tensor Mask(IReadOnlyDictionary<string, Tensor> masks, string name)
        => masks.TryGetValue(name, out var m) ? m : throw new InvalidDataException($"no frozen mask '{name}'");

    /// <summary>Multiplies channel groups by <paramref name="rows"/> and rank groups by <paramref name="columns"/>.</summary>
    internal static void Scale(Layer layer, Tensor? rows, Tensor? columns)
    {
        var a = layer.Weight.coefficients;
        if (rows is not null)
        {
            a.mul_(rows.unsqueeze(1));
            ScaleAffine(layer, rows);
        }
        if (columns is not null)
            a.mul_(columns.unsqueeze(0));
    }

    /// <summary>max(0, 1 - t w m / ||g||): zero for a zero group or one under its shrink; one where the target mask m
    /// is 0.</summary>
    private static Tensor Shrink(Tensor norms, double t, float[]? weights, Tensor? targets = null)
    {
        var shrink = weights is null ? (Tensor)t : tensor(weights, device: norms.device) * t;
        if (targets is not null)
            shrink = shrink * targets;
        return (1 - shrink / norms).clamp_min(0).nan_to_num(0);
    }

    private static void ScaleAffine(Layer layer, Tensor rows)
    {
        if (layer.Norm is { } bn)
        {
            bn.weight!.mul_(rows);
            bn.bias!.mul_(rows);
        }
        layer.Bias?.mul_(rows);
    }

    /// <summary>Squared channel-group norms; with <see cref="EdpChannelGroup.BatchNorm"/> (and a BN to measure), the
    /// affine part only.</summary>
    private static Tensor ChannelNormsSquared(Layer layer, EdpChannelGroup group)
    {
        var rows = layer.Weight.coefficients.square().sum(1);
        if (layer.Norm is { } bn)
        {
            var affine = bn.weight!.square() + bn.bias!.square();
            rows = group == EdpChannelGroup.BatchNorm ? affine : rows + affine;
        }
        return layer.Bias is { } bias ? rows + bias.square() : rows;
    }

    /// <summary>The current norms of a layer's rank groups (columns of A) and channel groups (rows of A with BN gamma,
    /// beta and bias; null without channel groups), copied to the CPU.</summary>
    public static (float[] Rank, float[]? Channel) GroupNorms(Layer layer, EdpChannelGroup channelGroup)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = layer.Weight.coefficients;
        var rank = a.square().sum(dim: 0).sqrt().cpu().data<float>().ToArray();
        var channel = layer.HasChannelGroups ? ChannelNormsSquared(layer, channelGroup).sqrt().cpu().data<float>().ToArray() : null;
        return (rank, channel);
    }
}
