using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What one group of a layer costs: one basis filter (a rank group) and one output channel (a channel group).</summary>
internal readonly record struct GroupCost(double Rank, double Channel);

/// <summary>The cost each group of every conv and linear layer carries, from the graph's shapes alone.</summary>
internal static class GroupCosts
{
    /// <summary>MACs per image that one basis filter and one output channel of each layer carry: a basis filter feeds
    /// c k^2 products per output pixel plus its n coefficients; an output channel costs its own filter, its slice of
    /// every layer that reads it (of its group's filters, in a grouped conv) and its filter in every grouped conv that
    /// follows it. Without
    /// <paramref name="perPixel"/>, the weights they carry instead.</summary>
    public static Dictionary<string, GroupCost> Of(NetworkGraph graph, bool perPixel = true)
    {
        var shapes = graph.Shapes();
        var result = new Dictionary<string, GroupCost>();
        foreach (var coupling in ChannelCoupling.Analyse(graph))
        {
            var layer = coupling.Layer;
            long n = layer.Outputs, fanIn = layer.WeightShape[1] * layer.KernelArea;
            long pixels = perPixel ? graph.OutputPixels(coupling.Layer.Name, shapes) : 1;
            double own = (double)fanIn * pixels;
            double next = coupling.Consumers.Sum(c => (double)c.OutputsPerInput * c.KernelArea * (perPixel ? graph.OutputPixels(c.Name, shapes) : 1))
                + coupling.Followers.Sum(f => (double)f.Conv.WeightShape[1] * f.Conv.KernelArea * (perPixel ? graph.OutputPixels(f.Conv.Name, shapes) : 1));
            result[layer.Name] = new GroupCost(own + (double)n * pixels, own + next);
        }
        return result;
    }
}
