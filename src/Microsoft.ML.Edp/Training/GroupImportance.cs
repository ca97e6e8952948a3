using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>How much the loss would grow if a group were removed, estimated to first order as in Molchanov et al.
/// (CVPR 2019): the square of the sum of p * dL/dp over the group's parameters, averaged over training steps. The
/// budget controller ranks groups by it to choose which ones its penalty removes.</summary>
/// <remarks>Group norms are a poor guide at that point: BN makes a channel's output blind to the scale of its row of
/// A, and an identity-initialised A starts with every group at the same norm. The Taylor term measures what the loss
/// sees. A rank group is a column of A; a channel group is a row of A (of the weight, for a layer that trains plain)
/// with the channel's BN gamma and beta, the layer's bias and the channel's part of the grouped convs that follow it,
/// as in <see cref="LayerGroups"/>; channels tied in a unit share their unit's estimate.</remarks>
internal sealed class GroupImportance(IReadOnlyList<LayerGroups> layers)
{
    /// <summary>Weight of the past in the moving average: about 50 steps are remembered, a tenth of an epoch of
    /// Fashion-MNIST at batch 128, long enough to average out batch noise and short enough to follow training.</summary>
    private const double Decay = 0.98;
    private const string RankPrefix = "rank.", ChannelPrefix = "channel.";
    private readonly Tensor?[] _rank = new Tensor?[layers.Count];
    private readonly Tensor?[] _channel = new Tensor?[layers.Count];

    /// <summary>Adds this step's estimate. Call after the backward pass and before the optimizer changes the parameters.</summary>
    public void Accumulate()
    {
        using var noGrad = no_grad();
        for (int i = 0; i < layers.Count; i++)
        {
            using var scope = NewDisposeScope();
            var layer = layers[i];
            var rows = layer.Weight.Rows;
            if (rows.grad is not { } gradient)
                continue;
            var products = rows * gradient;
            if (layer.Weight.Columns is not null) // dim: named, since a literal 0 would bind to sum's dtype overload.
                Average(ref _rank[i], products.sum(dim: 0).Squared());
            if (!layer.HasChannelGroups)
                continue;
            var channel = products.flatten(1).sum(dim: 1);
            if (layer.Norm is { } bn && bn.weight!.grad is { } gamma && bn.bias!.grad is { } beta)
                channel = channel + bn.weight * gamma + bn.bias * beta;
            if (layer.Bias is { } bias && bias.grad is { } biasGradient)
                channel = channel + bias * biasGradient;
            foreach (var follower in layer.Followers ?? [])
                channel = channel + follower.ChannelProducts();
            // A unit is removed whole: its estimate is the square of its sum, for each of its channels.
            Average(ref _channel[i], layer.Tied(channel).Squared());
        }
    }

    /// <summary>The estimates of layer <paramref name="index"/> (in the order of the layers given), copied to the CPU;
    /// null before the first step, and null channel estimates for a layer without channel groups.</summary>
    public (float[]? Rank, float[]? Channel) Of(int index)
        => (_rank[index]?.cpu().data<float>().ToArray(), _channel[index]?.cpu().data<float>().ToArray());

    /// <summary>The estimates by name, for a checkpoint.</summary>
    public IReadOnlyDictionary<string, Tensor> State => layers
        .SelectMany((l, i) => new[] { (RankPrefix + l.Name, _rank[i]), (ChannelPrefix + l.Name, _channel[i]) })
        .Where(e => e.Item2 is not null).ToDictionary(e => e.Item1, e => e.Item2!);

    /// <summary>Continues from a <see cref="State"/> read back from a checkpoint.</summary>
    public void Restore(IReadOnlyDictionary<string, Tensor> state)
    {
        using var scope = NewDisposeScope();
        for (int i = 0; i < layers.Count; i++)
        {
            var device = layers[i].Weight.Rows.device;
            _rank[i] = state.TryGetValue(RankPrefix + layers[i].Name, out var r) ? r.to(device).clone().DetachFromDisposeScope() : null;
            _channel[i] = state.TryGetValue(ChannelPrefix + layers[i].Name, out var c) ? c.to(device).clone().DetachFromDisposeScope() : null;
        }
    }

    private static void Average(ref Tensor? average, Tensor value)
    {
        if (average is null)
            average = value.clone().DetachFromDisposeScope();
        else
            average.mul_(Decay).add_(value, alpha: 1 - Decay);
    }
}
