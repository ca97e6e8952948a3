using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>Decides, from the group norms alone, what Pruning &amp; Merging keeps in each layer. Cheap enough to run
/// every epoch for the live rank and width.</summary>
internal static class PruningPlanner
{
    /// <summary>The plan of every conv and linear layer, in graph order: groups whose norm exceeds
    /// <paramref name="relativeThreshold"/> times the largest of their kind in the layer are kept, with kept counts
    /// rounded up to <paramref name="channelMultiple"/>, except where <paramref name="chosen"/> names a layer's groups
    /// (kept output channels and kept basis filters by layer name, null for what the norms say): the budget's
    /// importance selection plans with those.</summary>
    public static IReadOnlyList<LayerPlan> Plan(EdpNet net, double relativeThreshold, EdpChannelGroup channelGroup, int channelMultiple = 1,
        IReadOnlyDictionary<string, (long[]? Outputs, long[]? Rank)>? chosen = null)
    {
        var graph = net.Graph;
        var shapes = graph.Shapes();
        var couplings = ChannelCoupling.Analyse(graph).ToDictionary(c => c.Layer.Name);
        // The kept channels of every value: a layer's kept outputs flow through the channel-wise ops to its readers.
        var kept = new Dictionary<string, long[]> { [NetworkGraph.InputName] = GroupSelection.All(graph.InChannels) };
        var plans = new List<LayerPlan>();
        foreach (var layer in graph.Layers)
        {
            if (couplings.TryGetValue(layer.Name, out var coupling))
            {
                long outChannels = shapes[layer.Name][0];
                var fixedGroups = chosen?.GetValueOrDefault(layer.Name) ?? default;
                // A layer whose groups are all chosen needs no norms: the budget's selection plans dozens of times an update.
                var (outputs, rank) = fixedGroups is { Outputs: { } o, Rank: { } r } ? (o, r)
                    : ProximalGroupLasso.LayerOf(net, coupling) is { } groups
                        ? Select(groups, outChannels, relativeThreshold, channelGroup, channelMultiple)
                        : (GroupSelection.All(outChannels), null);
                (outputs, rank) = (fixedGroups.Outputs ?? outputs, fixedGroups.Rank ?? rank);
                int perChannel = (net.Weighted[layer.Name].bias is null ? 0 : 1) + (coupling.Norm is null ? 0 : 2);
                plans.Add(new LayerPlan(layer.Name, layer is ConvLayer, Shape(layer), graph.OutputPixels(layer.Name, shapes),
                    kept[layer.Input], outputs, rank, perChannel));
                kept[layer.Name] = outputs;
            }
            else
                kept[layer.Name] = layer is ReluLayer or PoolLayer or GlobalPoolLayer or BatchNormLayer
                    ? kept[layer.Input] : GroupSelection.All(shapes[layer.Name][0]);
        }
        return plans;
    }

    private static long[] Shape(LayerNode layer) => layer switch
    {
        ConvLayer c => [c.OutChannels, c.InChannels, c.Kernel, c.Kernel],
        LinearLayer l => [l.OutFeatures, l.InFeatures],
        _ => throw new ArgumentException($"Layer '{layer.Name}' has no weight."),
    };

    private static (long[] Outputs, long[]? Rank) Select(ProximalGroupLasso.Layer groups, long outChannels, double threshold, EdpChannelGroup channelGroup, int multiple)
    {
        var (rankNorms, channelNorms) = ProximalGroupLasso.GroupNorms(groups, channelGroup);
        var outputs = channelNorms is null ? GroupSelection.All(outChannels) : GroupSelection.Keep(channelNorms, threshold, multiple);
        return (outputs, GroupSelection.Keep(rankNorms, threshold, multiple));
    }
}
