using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What one group of a layer costs: one basis filter (a rank group) and one output channel (a channel group).</summary>
internal readonly record struct GroupCost(double Rank, double Channel);

/// <summary>The cost each group of every conv and linear layer carries, from the graph's shapes alone.</summary>
internal static class GroupCosts
{
    /// <summary>MACs per image that one basis filter and one output channel of each layer carry: a basis filter feeds
    /// c k^2 products per output pixel plus its n coefficients; an output channel costs its own filter (every member's,
    /// for a channel of a residual stream), its slice of every layer that reads it (of its group's filters, in a grouped
    /// conv) and its filter in every grouped conv that follows it. Without <paramref name="perPixel"/>, the weights they
    /// carry instead.</summary>
    public static Dictionary<string, GroupCost> Of(NetworkGraph graph, bool perPixel = true)
    {
        var shapes = graph.Shapes();
        long Pixels(string layer) => perPixel ? graph.OutputPixels(layer, shapes) : 1;
        double Filter(WeightLayer layer) => (double)layer.WeightShape[1] * layer.KernelArea * Pixels(layer.Name);
        var result = new Dictionary<string, GroupCost>();
        foreach (var coupling in ChannelCoupling.Analyse(graph))
        {
            var layer = coupling.Layer;
            double own = Filter(layer);
            double members = coupling.Stream?.Members.Sum(m => Filter(m.Layer)) ?? own;
            double next = coupling.Consumers.Sum(c => (double)c.OutputsPerInput * c.KernelArea * Pixels(c.Name))
                + coupling.Followers.Sum(f => Filter(f.Conv));
            result[layer.Name] = new GroupCost(own + (double)layer.Outputs * Pixels(layer.Name), members + next);
        }
        return result;
    }
}
