using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What one group of a layer costs: one basis filter (a rank group) and one output channel (a channel group).</summary>
internal readonly record struct GroupCost(double Rank, double Channel);

/// <summary>The cost each group of every conv and linear layer carries, from the graph's shapes alone.</summary>
internal static class GroupCosts
{
    /// <summary>MACs per image that one basis filter and one output channel of each layer carry: a basis filter feeds
    /// c k^2 products per output pixel plus its n coefficients; an output channel costs its own filter, its slice of
    /// every layer that reads it and its filter in every depthwise conv that follows it. Without
    /// <paramref name="perPixel"/>, the weights they carry instead.</summary>
    public static Dictionary<string, GroupCost> Of(NetworkGraph graph, bool perPixel = true)
    {
        var shapes = graph.Shapes();
        var result = new Dictionary<string, GroupCost>();
        foreach (var coupling in ChannelCoupling.Analyse(graph))
        {
            var (n, fanIn) = Dimensions(coupling.Layer);
            long pixels = perPixel ? graph.OutputPixels(coupling.Layer.Name, shapes) : 1;
            double own = (double)fanIn * pixels;
            double next = coupling.Consumers.Sum(c => (double)Dimensions(c).Out * Kernel(c) * Kernel(c) * (perPixel ? graph.OutputPixels(c.Name, shapes) : 1))
                + coupling.Followers.Sum(f => (double)f.Conv.Kernel * f.Conv.Kernel * (perPixel ? graph.OutputPixels(f.Conv.Name, shapes) : 1));
            result[coupling.Layer.Name] = new GroupCost(own + (double)n * pixels, own + next);
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
}
