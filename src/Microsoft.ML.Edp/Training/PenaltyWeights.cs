using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;

namespace Microsoft.ML.Edp.Training;

/// <summary>Per-group shrink weights for <see cref="ProximalGroupLasso"/>.</summary>
internal static class PenaltyWeights
{
    public static IReadOnlyList<ProximalGroupLasso.Layer> Apply(IReadOnlyList<ProximalGroupLasso.Layer> layers, NetworkGraph graph, EdpPenaltyWeighting weighting)
    {
        switch (weighting)
        {
            case EdpPenaltyWeighting.GroupSize:
                return layers.Select(l => l with
                {
                    RankWeights = Fill(l.Weight.coefficients.shape[1], MathF.Sqrt(l.Weight.OutChannels)),
                    ChannelWeights = Fill(l.Weight.OutChannels, MathF.Sqrt(l.Weight.Rank + 2)),
                }).ToList();
            case EdpPenaltyWeighting.Cost:
                var costs = GroupCosts(graph);
                var compressed = layers.Select(l => costs[l.Name]).ToList();
                double rankMean = Mean(layers.Zip(compressed, (l, c) => (c.Rank, l.Weight.Rank)));
                double channelMean = Mean(layers.Zip(compressed, (l, c) => (c.Channel, l.HasChannelGroups ? l.Weight.OutChannels : 0)));
                return layers.Zip(compressed, (l, c) => l with
                {
                    RankWeights = Fill(l.Weight.Rank, (float)(c.Rank / rankMean)),
                    ChannelWeights = Fill(l.Weight.OutChannels, (float)(c.Channel / channelMean)),
                }).ToList();
            default:
                return layers;
        }
    }

    /// <summary>MACs per image that one basis filter and one output channel of each layer carry: a basis filter feeds
    /// c k^2 products per output pixel plus its n coefficients; an output channel costs its own filter and its slice of
    /// every layer that reads it. Without <paramref name="perPixel"/>, the weights they carry instead.</summary>
    public static Dictionary<string, (double Rank, double Channel)> GroupCosts(NetworkGraph graph, bool perPixel = true)
    {
        var shapes = graph.Shapes();
        var result = new Dictionary<string, (double, double)>();
        foreach (var coupling in ChannelCoupling.Analyse(graph))
        {
            var (n, fanIn) = Dimensions(coupling.Layer);
            long pixels = perPixel ? graph.OutputPixels(coupling.Layer.Name, shapes) : 1;
            double own = (double)fanIn * pixels;
            double next = coupling.Consumers.Sum(c => (double)Dimensions(c).Out * Kernel(c) * Kernel(c) * (perPixel ? graph.OutputPixels(c.Name, shapes) : 1));
            result[coupling.Layer.Name] = (own + (double)n * pixels, own + next);
        }
        return result;
    }

    private static (long Out, long FanIn) Dimensions(LayerNode layer) => layer switch
    {
        ConvLayer c => (c.OutChannels, (long)c.InChannels * c.Kernel * c.Kernel),
        LinearLayer l => (l.OutFeatures, l.InFeatures),
        _ => throw new ArgumentException($"Layer '{layer.Name}' has no weight."),
    };

    private static int Kernel(LayerNode layer) => layer is ConvLayer c ? c.Kernel : 1;

    private static double Mean(IEnumerable<(double Cost, long Count)> groups)
    {
        var list = groups.ToList();
        long n = list.Sum(g => g.Count);
        return n == 0 ? 1 : list.Sum(g => g.Cost * g.Count) / n;
    }

    private static float[] Fill(long count, float value) => Enumerable.Repeat(value, (int)count).ToArray();
}
