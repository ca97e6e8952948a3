using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Inference graphs with random weights, for timing shapes in ONNX Runtime: one layer at its site at given
/// widths and rank, the smallest model (the fixed cost of a run), and the plain network as its export would be. They
/// go through the same ONNX writer as every exported model, so they get the same graph optimisations.</summary>
internal static class TimingGraphs
{
    /// <summary>The layer at <paramref name="site"/> from <paramref name="inChannels"/> to <paramref name="outChannels"/>,
    /// as one layer or, with <paramref name="rank"/>, as the basis and coefficient pair, with its ReLU and pool, then
    /// global average pooling so that it ends in [N, outChannels] as the ONNX writer's head expects.</summary>
    public static InferenceGraph Layer(LayerSite site, int inChannels, int outChannels, int? rank)
    {
        var random = new Random(1);
        var nodes = new List<GraphNode>();
        string x = OnnxNames.Input;
        if (!site.IsConv)
            nodes.Add(new FlattenNode("flatten", x, x = "features"));
        if (rank is int r)
        {
            nodes.Add(Weighted(site, "basis", x, x = "basis_out", inChannels, r, coefficients: false, random, bias: false));
            nodes.Add(Weighted(site, "coefficients", x, x = "layer_out", r, outChannels, coefficients: true, random, bias: true));
        }
        else
            nodes.Add(Weighted(site, "layer", x, x = "layer_out", inChannels, outChannels, coefficients: false, random, bias: true));
        if (site.Relu is { } relu)
            nodes.Add(new ReluNode("relu", x, x = "relu_out", relu.Max));
        if (site.Pool is { } p)
            nodes.Add(new PoolNode("pool", x, x = "pool_out", p.IsMax, p.Kernel, p.Stride, p.Padding));
        if (site.IsConv)
            nodes.Add(new GlobalAveragePoolNode("global_pool", x, OnnxNames.Logits));
        else
            nodes[^1] = nodes[^1] with { Output = OnnxNames.Logits };
        return new InferenceGraph(OnnxNames.Input, inChannels, site.Height, site.Width, OnnxNames.Logits, outChannels, nodes);
    }

    /// <summary>The fixed cost of a run: an image input of the network's shape, global average pooling and the head.</summary>
    public static InferenceGraph Overhead(int channels, int height, int width)
        => new(OnnxNames.Input, channels, height, width, OnnxNames.Logits, channels, [new GlobalAveragePoolNode("global_pool", OnnxNames.Input, OnnxNames.Logits)]);

    /// <summary>The plain network as Pruning &amp; Merging exports it (BN folded into a bias), with random weights.</summary>
    public static InferenceGraph Plain(NetworkGraph graph)
    {
        var random = new Random(1);
        var sites = LayerSite.Of(graph).ToDictionary(s => s.Name);
        string Name(string value) => value == NetworkGraph.InputName ? OnnxNames.Input : value == graph.Output ? OnnxNames.Logits : value;
        // A BN's readers read the layer it folds into.
        var folded = graph.Layers.OfType<BatchNormLayer>().ToDictionary(b => b.Name, b => b.Input);
        string Source(string value) => Name(folded.GetValueOrDefault(value) is { } layer && value != graph.Output ? layer : value);
        var nodes = new List<GraphNode>();
        foreach (var layer in graph.Layers)
        {
            string input = Source(layer.Input), output = Name(layer.Name);
            bool feedsOutput = graph.Consumers(layer.Name).ToList() is [BatchNormLayer bn] && bn.Name == graph.Output;
            if (feedsOutput)
                output = OnnxNames.Logits;
            switch (layer)
            {
                case ConvLayer or LinearLayer:
                    var s = sites[layer.Name];
                    nodes.Add(Weighted(s, layer.Name, input, output, s.InChannels, s.OutChannels, coefficients: false, random, bias: true));
                    break;
                case BatchNormLayer:
                    break;
                default:
                    nodes.Add(WeightlessNodes.Of(layer, Source, output)!);
                    break;
            }
        }
        return new InferenceGraph(OnnxNames.Input, graph.InChannels, graph.Height, graph.Width, OnnxNames.Logits, graph.Classes, nodes);
    }

    /// <summary>A conv or linear node of the site's kind: the layer (or its basis) at the site's kernel, stride and
    /// padding, or with <paramref name="coefficients"/> the pair's 1x1 coefficient conv.</summary>
    private static GraphNode Weighted(LayerSite site, string name, string input, string output, int inChannels, int outChannels, bool coefficients, Random random, bool bias)
    {
        int kernel = coefficients ? 1 : site.Kernel;
        // Uniform in +-1/sqrt(fan-in), as PyTorch initialises, so activations stay in range and no run meets denormals.
        double bound = 1 / Math.Sqrt(inChannels / (site.IsDepthwise ? inChannels : site.Groups) * kernel * kernel);
        float Draw() => (float)((random.NextDouble() * 2 - 1) * bound);
        var b = bias ? new DenseTensor([outChannels], Values(outChannels, Draw)) : null;
        if (!site.IsConv)
            return new GemmNode(name, input, output, new DenseTensor([outChannels, inChannels], Values(outChannels * inChannels, Draw)), b);
        if (coefficients)
            return new ConvNode(name, input, output, new DenseTensor([outChannels, inChannels, 1, 1], Values(outChannels * inChannels, Draw)), b, 1, 0);
        // A depthwise conv keeps one filter per channel at every width; another grouped conv is only timed at its plain widths.
        int groups = site.IsDepthwise ? inChannels : site.Groups, groupIn = inChannels / groups;
        var weight = new DenseTensor([outChannels, groupIn, kernel, kernel], Values(outChannels * groupIn * kernel * kernel, Draw));
        return new ConvNode(name, input, output, weight, b, site.Stride, site.Padding, groups);
    }

    private static float[] Values(int count, Func<float> draw)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = draw();
        return values;
    }
}
