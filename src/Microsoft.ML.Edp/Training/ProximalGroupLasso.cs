using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The L2,1 proximal step on a CAB's coefficients A after each optimizer step: every group's L2 norm shrinks
/// by the step's shrink (times the group's weight), and a group whose norm is below it becomes exactly zero. A
/// subgradient penalty in the loss never reaches exact zeros; this does.</summary>
/// <remarks>Rank groups are the columns of A. Channel groups are the rows of A together with that channel's BN gamma
/// and beta, so that a pruned channel emits exactly zero after BN and ReLU, not a constant. A classifier has no BN and
/// no channel groups: its outputs are the classes.</remarks>
internal sealed class ProximalGroupLasso(IReadOnlyList<ProximalGroupLasso.Layer> layers, EdpChannelGroup channelGroup = EdpChannelGroup.CoefficientsAndBatchNorm)
{
    /// <summary>A compressed layer, the BN whose gamma and beta share its channel groups (null for the classifier),
    /// and per-group shrink weights (null for 1).</summary>
    public sealed record Layer(string Name, CompressedWeight Weight, BatchNorm? Norm, float[]? RankWeights = null, float[]? ChannelWeights = null);

    private List<(Tensor Rows, Tensor Columns)>? _frozen;

    public static ProximalGroupLasso For(EdpNet net, EdpPenaltyWeighting weighting, EdpChannelGroup channelGroup)
    {
        var list = net.Blocks.Where(b => b.conv is CompressedWeight)
            .Select(b => new Layer(b.Spec.Name, (CompressedWeight)b.conv, b.bn))
            .ToList();
        if (net.head.linear is CompressedWeight head)
            list.Add(new Layer(NetworkSpec.ClassifierName, head, null));
        return new ProximalGroupLasso(PenaltyWeights.Apply(list, net.Spec, weighting), channelGroup);
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
            if (channelShrink > 0 && layer.Norm is { } bn)
            {
                var factor = Shrink(ChannelNormsSquared(a, bn, channelGroup).sqrt(), channelShrink, layer.ChannelWeights);
                if (channelGroup == EdpChannelGroup.BatchNorm)
                {
                    bn.weight!.mul_(factor);
                    bn.bias!.mul_(factor);
                    a.mul_(factor.gt(0).to(a.dtype).unsqueeze(1));
                }
                else
                    Scale(layer, factor, null);
            }
            if (rankShrink > 0)
                Scale(layer, null, Shrink(a.square().sum(dim: 0).sqrt(), rankShrink, layer.RankWeights));
        }
    }

    /// <summary>Fixes the current sparsity pattern: from now on <see cref="Step"/> only keeps zero groups at zero.</summary>
    public void Freeze()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _frozen = layers.Select(layer =>
        {
            var a = layer.Weight.coefficients;
            var rows = (layer.Norm is { } bn ? ChannelNormsSquared(a, bn, channelGroup) : a.square().sum(1)).gt(0).to(a.dtype);
            var columns = a.square().sum(dim: 0).gt(0).to(a.dtype);
            return (rows.DetachFromDisposeScope(), columns.DetachFromDisposeScope());
        }).ToList();
    }

    private static void Scale(Layer layer, Tensor? rows, Tensor? columns)
    {
        var a = layer.Weight.coefficients;
        if (rows is not null)
        {
            a.mul_(rows.unsqueeze(1));
            if (layer.Norm is { } bn)
            {
                bn.weight!.mul_(rows);
                bn.bias!.mul_(rows);
            }
        }
        if (columns is not null)
            a.mul_(columns.unsqueeze(0));
    }

    /// <summary>max(0, 1 - t w / ||g||): zero for a zero group or one under its shrink.</summary>
    private static Tensor Shrink(Tensor norms, double t, float[]? weights)
    {
        var shrink = weights is null ? (Tensor)t : tensor(weights, device: norms.device) * t;
        return (1 - shrink / norms).clamp_min(0).nan_to_num(0);
    }

    private static Tensor ChannelNormsSquared(Tensor a, BatchNorm bn, EdpChannelGroup group)
    {
        var affine = bn.weight!.square() + bn.bias!.square();
        return group == EdpChannelGroup.BatchNorm ? affine : a.square().sum(1) + affine;
    }

    /// <summary>The current norms of a layer's rank groups (columns of A) and channel groups (rows of A with BN gamma and
    /// beta; null without BN), copied to the CPU.</summary>
    public static (float[] Rank, float[]? Channel) GroupNorms(Layer layer, EdpChannelGroup channelGroup)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = layer.Weight.coefficients;
        var rank = a.square().sum(dim: 0).sqrt().cpu().data<float>().ToArray();
        var channel = layer.Norm is { } bn ? ChannelNormsSquared(a, bn, channelGroup).sqrt().cpu().data<float>().ToArray() : null;
        return (rank, channel);
    }
}
