using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The L2,1 proximal step on a CAB's coefficients A after each optimizer step: every group's L2 norm shrinks
/// by the step's shrink, and a group whose norm is below the shrink becomes exactly zero. A subgradient penalty in the
/// loss never reaches exact zeros; this does.</summary>
/// <remarks>Rank groups are the columns of A. Channel groups are the rows of A together with that channel's BN gamma
/// and beta, so that a pruned channel emits exactly zero after BN and ReLU, not a constant. A classifier has no BN and
/// no channel groups: its outputs are the classes.</remarks>
internal sealed class ProximalGroupLasso(IReadOnlyList<ProximalGroupLasso.Layer> layers, bool scaleByGroupSize)
{
    /// <summary>A compressed layer and the BN whose gamma and beta share its channel groups (null for the classifier).</summary>
    public sealed record Layer(string Name, CompressedWeight Weight, BatchNorm? Norm);

    public IReadOnlyList<Layer> Layers => layers;

    public static ProximalGroupLasso For(EdpNet net, bool scaleByGroupSize)
    {
        var list = net.Blocks.Where(b => b.conv is CompressedWeight)
            .Select(b => new Layer(b.Spec.Name, (CompressedWeight)b.conv, b.bn))
            .ToList();
        if (net.head.linear is CompressedWeight head)
            list.Add(new Layer(NetworkSpec.ClassifierName, head, null));
        return new ProximalGroupLasso(list, scaleByGroupSize);
    }

    /// <param name="rankShrink">lr * RankPenalty * s(t).</param>
    /// <param name="channelShrink">lr * ChannelPenalty * s(t).</param>
    public void Step(double rankShrink, double channelShrink)
    {
        using var noGrad = no_grad();
        foreach (var layer in layers)
        {
            using var scope = NewDisposeScope();
            var a = layer.Weight.coefficients;
            if (channelShrink > 0 && layer.Norm is { } bn)
            {
                double size = scaleByGroupSize ? Math.Sqrt(a.shape[1] + 2) : 1;
                var factor = Shrink(ChannelNormsSquared(a, bn).sqrt(), channelShrink * size);
                a.mul_(factor.unsqueeze(1));
                bn.weight.mul_(factor);
                bn.bias.mul_(factor);
            }
            if (rankShrink > 0)
            {
                double size = scaleByGroupSize ? Math.Sqrt(a.shape[0]) : 1;
                a.mul_(Shrink(a.square().sum(dim: 0).sqrt(), rankShrink * size).unsqueeze(0));
            }
        }
    }

    /// <summary>max(0, 1 - t / ||g||): zero for a zero group or one under the shrink.</summary>
    private static Tensor Shrink(Tensor norms, double t) => (1 - t / norms).clamp_min(0).nan_to_num(0);

    private static Tensor ChannelNormsSquared(Tensor a, BatchNorm bn)
        => a.square().sum(1) + bn.weight.square() + bn.bias.square();

    /// <summary>The current norms of a layer's rank groups (columns of A) and channel groups (rows of A with BN gamma and
    /// beta; null without BN), copied to the CPU.</summary>
    public static (float[] Rank, float[]? Channel) GroupNorms(Layer layer)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = layer.Weight.coefficients;
        var rank = a.square().sum(dim: 0).sqrt().cpu().data<float>().ToArray();
        var channel = layer.Norm is { } bn ? ChannelNormsSquared(a, bn).sqrt().cpu().data<float>().ToArray() : null;
        return (rank, channel);
    }
}
