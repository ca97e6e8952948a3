using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Training;

/// <summary>Per-group shrink weights for <see cref="ProximalGroupLasso"/>.</summary>
internal static class PenaltyWeights
{
    public static IReadOnlyList<ProximalGroupLasso.Layer> Apply(IReadOnlyList<ProximalGroupLasso.Layer> layers, NetworkSpec spec, EdpPenaltyWeighting weighting)
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
                var costs = GroupCosts(spec);
                var compressed = layers.Select(l => costs[l.Name]).ToList();
                double rankMean = Mean(layers.Zip(compressed, (l, c) => (c.Rank, l.Weight.Rank)));
                double channelMean = Mean(layers.Zip(compressed, (l, c) => (c.Channel, l.Norm is null ? 0 : l.Weight.OutChannels)));
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
    /// the next layer.</summary>
    public static Dictionary<string, (double Rank, double Channel)> GroupCosts(NetworkSpec spec)
    {
        var result = new Dictionary<string, (double, double)>();
        var pixels = spec.ConvOutputPixels();
        for (int i = 0; i < spec.Convs.Count; i++)
        {
            var c = spec.Convs[i];
            double own = (double)c.InChannels * c.Kernel * c.Kernel * pixels[i];
            double next = i + 1 < spec.Convs.Count
                ? (double)spec.Convs[i + 1].OutChannels * spec.Convs[i + 1].Kernel * spec.Convs[i + 1].Kernel * pixels[i + 1]
                : spec.Classes;
            result[c.Name] = (own + (double)c.OutChannels * pixels[i], own + next);
        }
        int features = spec.Convs[^1].OutChannels;
        result[NetworkSpec.ClassifierName] = (features + spec.Classes, 0);
        return result;
    }

    private static double Mean(IEnumerable<(double Cost, long Count)> groups)
    {
        var list = groups.ToList();
        long n = list.Sum(g => g.Count);
        return n == 0 ? 1 : list.Sum(g => g.Cost * g.Count) / n;
    }

    private static float[] Fill(long count, float value) => Enumerable.Repeat(value, (int)count).ToArray();
}
