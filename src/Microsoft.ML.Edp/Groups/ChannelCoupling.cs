using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What removing one output channel of a conv or linear layer touches, found by following its output through
/// the graph (the dependency-graph idea of Torch-Pruning, for the ops a <see cref="NetworkGraph"/> has).</summary>
/// <param name="Layer">The conv or linear layer.</param>
/// <param name="Norm">The BatchNorm that reads only this layer's output; its gamma and beta join the channel group
/// and PM folds it into the layer.</param>
/// <param name="Prunable">False when a channel reaches a residual sum, a flatten, a BN further down or the graph output:
/// removing it there would change what other layers see, so only the rank of such a layer is reduced.</param>
/// <param name="Consumers">The conv and linear layers whose input channels follow this layer's output channels.</param>
/// <param name="Followers">The depthwise convs (with the BN that reads only them) on this layer's channels, and the
/// offset of those channels in the conv's input (past a Concat, the offset of this layer's part): a removed channel
/// takes its filter and BN channel with it, so that they too emit exactly zero there.</param>
/// <param name="Follows">For the excitation conv of a squeeze-excitation block (its output gates a map through
/// channel-wise ops), the gated map: the conv keeps the output channels that map keeps, so that a channel pruned from
/// the block is dropped from its gate as well.</param>
internal sealed record ChannelCoupling(WeightLayer Layer, BatchNormLayer? Norm, bool Prunable, IReadOnlyList<WeightLayer> Consumers,
    IReadOnlyList<(ConvLayer Conv, BatchNormLayer? Norm, long Offset)> Followers, string? Follows = null)
{
    // A graph never changes once built, and the planner asks again every few training steps when a budget is set
    // (and 40 times while cutting to it); the walk scans every layer's readers, so it is done once per graph.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NetworkGraph, IReadOnlyList<ChannelCoupling>> Cache = new();

    /// <summary>The coupling of every conv and linear layer, in graph order.</summary>
    public static IReadOnlyList<ChannelCoupling> Analyse(NetworkGraph graph)
        => Cache.GetValue(graph, g => g.Layers.OfType<WeightLayer>().Select(l => Of(g, l)).ToList());

    private static ChannelCoupling Of(NetworkGraph graph, WeightLayer layer)
    {
        var direct = graph.Consumers(layer.Name).ToList();
        var norm = direct is [BatchNormLayer bn] ? bn : null;
        var consumers = new List<WeightLayer>();
        var followers = new List<(ConvLayer, BatchNormLayer?, long)>();
        bool prunable = true;
        var shapes = graph.Shapes();
        // Each value the walk reaches, with the offset of this layer's channels in it.
        var pending = new Stack<(string Value, long Offset)>([(norm?.Name ?? layer.Name, 0)]);
        while (pending.Count > 0)
        {
            var (value, offset) = pending.Pop();
            if (value == graph.Output)
                prunable = false;
            foreach (var next in graph.Consumers(value))
            {
                switch (next)
                {
                    // Zero in, zero out, channel by channel, at the channel's offset in the concatenation; and a zero
                    // channel of a gated map stays zero whatever its gate.
                    case ConcatLayer concat:
                        for (int part = 0; part < concat.Parts.Length; part++)
                            if (concat.Parts[part] == value)
                                pending.Push((next.Name, offset + concat.Parts[..part].Sum(p => shapes[p][0])));
                        break;
                    case ChannelGateLayer gate when gate.Input == value:
                        pending.Push((next.Name, offset));
                        break;
                    // A depthwise conv's channel c reads channel c alone: it follows, and the walk goes on past it.
                    case ConvLayer { IsDepthwise: true } depthwise:
                        var depthwiseNorm = graph.Consumers(depthwise.Name).ToList() is [BatchNormLayer dbn] ? dbn : null;
                        followers.Add((depthwise, depthwiseNorm, offset));
                        pending.Push((depthwiseNorm?.Name ?? depthwise.Name, offset));
                        break;
                    // A grouped conv's weight pairs each input channel with its group's outputs.
                    case ConvLayer { Groups: > 1 }:
                        prunable = false;
                        break;
                    case WeightLayer weighted:
                        consumers.Add(weighted);
                        break;
                    // Zero in, zero out, channel by channel: a pruned channel stays exactly zero through these.
                    case { KeepsZeroChannels: true }:
                        pending.Push((next.Name, offset));
                        break;
                    default:
                        prunable = false;
                        break;
                }
            }
        }
        // A depthwise conv keeps the channels of its input.
        string? follows = layer is ConvLayer { IsDepthwise: true } ? layer.Input : GatedMap(graph, norm?.Name ?? layer.Name);
        return new ChannelCoupling(layer, norm, prunable, consumers, followers, follows);
    }

    /// <summary>The map whose channel gate <paramref name="value"/> computes through single-reader channel-wise ops
    /// (an activation such as Sigmoid), or null.</summary>
    private static string? GatedMap(NetworkGraph graph, string value)
    {
        while (graph.Consumers(value).ToList() is [var next])
        {
            if (next is ChannelGateLayer gate && gate.Gate == value)
                return gate.Input;
            if (next is not (ActivationLayer or ReluLayer))
                return null;
            value = next.Name;
        }
        return null;
    }
}
