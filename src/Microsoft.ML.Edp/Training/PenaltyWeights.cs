using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Training;

/// <summary>One layer's per-group shrink weights for <see cref="ProximalGroupLasso"/>: one per rank group and one per
/// channel group (null for 1).</summary>
internal sealed record ShrinkWeights(float[]? Rank = null, float[]? Channel = null);

/// <summary>Per-group shrink weights for <see cref="ProximalGroupLasso"/>.</summary>
internal static class PenaltyWeights
{
    /// <summary>The weights of every layer, in the order given; null when every group weighs 1.</summary>
    public static IReadOnlyList<ShrinkWeights>? For(IReadOnlyList<LayerGroups> layers, NetworkGraph graph, EdpPenaltyWeighting weighting)
    {
        var weights = ByWeighting(layers, graph, weighting);
        return layers.Any(l => l.Units.Count < l.Units.UnitOf.Length)
            ? [.. layers.Select((l, i) => UnitScaled(weights?[i] ?? new ShrinkWeights(), l))]
            : weights;
    }

    /// <summary>A unit of k channels that a grouped conv ties shrinks by sqrt(k) times its channels' weight: as hard as
    /// its channels would apart (k channels of norm n / sqrt(k) each shrunk by w leave the unit's norm n - sqrt(k) w).
    /// Shrunk by w alone, a unit of 4 kept its whole width through a fit that took single channels away.</summary>
    private static ShrinkWeights UnitScaled(ShrinkWeights weights, LayerGroups layer)
    {
        var units = layer.Units;
        var channel = weights.Channel ?? Fill(units.UnitOf.Length, 1);
        return weights with { Channel = [.. channel.Select((w, c) => w * MathF.Sqrt(units.Size(units.UnitOf[c])))] };
    }

    private static IReadOnlyList<ShrinkWeights>? ByWeighting(IReadOnlyList<LayerGroups> layers, NetworkGraph graph, EdpPenaltyWeighting weighting)
    {
        switch (weighting)
        {
            case EdpPenaltyWeighting.GroupSize:
                return layers.Select(l => new ShrinkWeights(
                    Fill(l.Weight.Rank, MathF.Sqrt(l.Weight.OutChannels)),
                    Fill(l.Weight.OutChannels, MathF.Sqrt(l.Weight.Rows.numel() / l.Weight.OutChannels + 2)))).ToList();
            case EdpPenaltyWeighting.Cost:
                var costs = CostModel.Macs.Groups(graph);
                var compressed = layers.Select(l => costs[l.Name]).ToList();
                double rankMean = Mean(layers.Zip(compressed, (l, c) => (c.Rank, l.Weight.Rank)));
                double channelMean = Mean(layers.Zip(compressed, (l, c) => (c.Channel, l.HasChannelGroups ? l.Weight.OutChannels : 0)));
                return layers.Zip(compressed, (l, c) => new ShrinkWeights(
                    Fill(l.Weight.Rank, (float)(c.Rank / rankMean)),
                    Fill(l.Weight.OutChannels, (float)(c.Channel / channelMean)))).ToList();
            default:
                return null;
        }
    }

    private static double Mean(IEnumerable<(double Cost, long Count)> groups)
    {
        var list = groups.ToList();
        long n = list.Sum(g => g.Count);
        return n == 0 ? 1 : list.Sum(g => g.Cost * g.Count) / n;
    }

    private static float[] Fill(long count, float value) => Enumerable.Repeat(value, (int)count).ToArray();
}
