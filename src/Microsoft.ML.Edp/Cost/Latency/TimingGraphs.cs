using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Exported graphs with random weights, for timing shapes in ONNX Runtime: one layer at its site at given
/// widths and rank, the smallest model (the fixed cost of a run), and the plain network as its export would be. They
/// go through the same ONNX writer as every exported model, so they get the same graph optimisations.</summary>
internal static class TimingGraphs
{
    /// <summary>The layer at <paramref name="site"/> from <paramref name="inChannels"/> to <paramref name="outChannels"/>,
    /// as one layer or, with <paramref name="rank"/>, as the basis and coefficient pair, with its ReLU and pool, then
    /// global average pooling so that it ends in [N, outChannels] as the ONNX writer's head expects.</summary>
    public static NetworkGraph Layer(LayerSite site, int inChannels, int outChannels, int? rank)
    {
        var random = new Random(1);
        var layers = new List<LayerNode>();
        string x = NetworkGraph.InputName;
        void Add(LayerNode layer)
        {
            layers.Add(layer);
            x = layer.Name;
        }
        if (!site.IsConv)
            Add(new FlattenLayer("flatten", x));
        if (rank is int r)
        {
            Add(Weighted(site, "basis", x, inChannels, r, coefficients: false, random, bias: false));
            Add(Weighted(site, "coefficients", x, r, outChannels, coefficients: true, random, bias: true));
        }
        else
            Add(Weighted(site, "layer", x, inChannels, outChannels, coefficients: false, random, bias: true));
        if (site.Relu is { } relu)
            Add(new ReluLayer("relu", x, relu.Max));
        if (site.Pool is { } p)
            Add(new PoolLayer("pool", x, p.IsMax, p.Kernel, p.Stride, p.Padding));
        if (site.IsConv)
            Add(new GlobalPoolLayer("global_pool", x));
        return new NetworkGraph(inChannels, site.Height, site.Width, layers, x, outChannels);
    }

    /// <summary>The fixed cost of a run: an image input of the network's shape, global average pooling and the head.</summary>
    public static NetworkGraph Overhead(int channels, int height, int width)
        => new(channels, height, width, [new GlobalPoolLayer("global_pool", NetworkGraph.InputName)], "global_pool", channels);

    /// <summary>The plain network as Pruning &amp; Merging exports it (BN folded into a bias), with random weights.</summary>
    public static NetworkGraph Plain(NetworkGraph graph)
    {
        var random = new Random(1);
        var sites = LayerSite.Of(graph).ToDictionary(s => s.Name);
        // A BN's readers read the layer it folds into.
        var folded = graph.Layers.OfType<BatchNormLayer>().ToDictionary(b => b.Name, b => b.Input);
        string Source(string value) => folded.GetValueOrDefault(value, value);
        var layers = graph.Layers.Where(l => l is not BatchNormLayer).Select(layer => layer is WeightLayer
            ? Weighted(sites[layer.Name], layer.Name, Source(layer.Input), sites[layer.Name].InChannels, sites[layer.Name].OutChannels, coefficients: false, random, bias: true)
            : layer.ReadingFrom(Source)).ToList();
        return graph with { Layers = layers, Output = Source(graph.Output) };
    }

    /// <summary>A conv or linear layer of the site's kind: the layer (or its basis) at the site's kernel, stride and
    /// padding, or with <paramref name="coefficients"/> the pair's 1x1 coefficient conv.</summary>
    private static WeightLayer Weighted(LayerSite site, string name, string input, int inChannels, int outChannels, bool coefficients, Random random, bool bias)
    {
        int kernel = coefficients ? 1 : site.Kernel;
        // A conv that loses whole groups keeps its groups' width at every width it is timed at; another grouped conv is
        // only timed at its plain widths.
        int groups = site.ChannelsFollowInput ? inChannels / site.ChannelsPerGroup : site.Groups;
        // Uniform in +-1/sqrt(fan-in), as PyTorch initialises, so activations stay in range and no run meets denormals.
        double bound = 1 / Math.Sqrt(inChannels / groups * kernel * kernel);
        float Draw() => (float)((random.NextDouble() * 2 - 1) * bound);
        var b = bias ? new DenseTensor([outChannels], Values(outChannels, Draw)) : null;
        if (!site.IsConv)
            return LinearLayer.Of(name, input, new DenseTensor([outChannels, inChannels], Values(outChannels * inChannels, Draw)), b);
        if (coefficients)
            return ConvLayer.Of(name, input, new DenseTensor([outChannels, inChannels, 1, 1], Values(outChannels * inChannels, Draw)), b, 1, 0);
        int groupIn = inChannels / groups;
        var weight = new DenseTensor([outChannels, groupIn, kernel, kernel], Values(outChannels * groupIn * kernel * kernel, Draw));
        return ConvLayer.Of(name, input, weight, b, site.Stride, site.Padding, groups);
    }

    private static float[] Values(int count, Func<float> draw)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = draw();
        return values;
    }
}
