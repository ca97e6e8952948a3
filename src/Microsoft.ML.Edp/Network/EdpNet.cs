using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>The trainable network: runs any <see cref="NetworkGraph"/> (VGG, ResNet or an imported model), with every
/// conv and linear layer either plain or a compressed-aware block, as the graph says.</summary>
internal sealed class EdpNet : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, WeightedLayer> _weighted = new();
    private readonly Dictionary<string, BatchNorm> _norms = new();

    public EdpNet(NetworkGraph graph, EdpCoefficientInit init = EdpCoefficientInit.Identity) : base("edp_net")
    {
        Graph = graph;
        var shapes = graph.Shapes();
        foreach (var layer in graph.Layers)
        {
            if (layer is WeightLayer)
                register_module(layer.Name, _weighted[layer.Name] = new WeightedLayer(layer, init));
            else if (layer is BatchNormLayer b)
                register_module(layer.Name, _norms[layer.Name] = CreateNorm(b, shapes[b.Input].Length == 3));
        }
    }

    public NetworkGraph Graph { get; }

    /// <summary>The conv and linear layers by name, in graph order.</summary>
    public IReadOnlyDictionary<string, WeightedLayer> Weighted => _weighted;

    /// <summary>The BatchNorm layers by name.</summary>
    public IReadOnlyDictionary<string, BatchNorm> Norms => _norms;

    /// <summary>Logits [N, classes] for images [N, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor> { [NetworkGraph.InputName] = x };
        foreach (var layer in Graph.Layers)
        {
            var input = values[layer.Input];
            values[layer.Name] = layer switch
            {
                WeightLayer => _weighted[layer.Name].forward(input),
                BatchNormLayer => _norms[layer.Name].forward(input),
                _ => LayerOps.Forward(layer, input, values),
            };
        }
        return values[Graph.Output].MoveToOuterDisposeScope();
    }

    /// <summary>Every coefficient matrix A, which takes group penalties instead of weight decay.</summary>
    public IEnumerable<Parameter> CoefficientParameters()
        => _weighted.Values.Select(w => w.weight).OfType<CompressedWeight>().Select(w => w.coefficients);

    private static BatchNorm CreateNorm(BatchNormLayer b, bool spatial)
    {
        BatchNorm norm = spatial ? nn.BatchNorm2d(b.Channels, b.Epsilon) : nn.BatchNorm1d(b.Channels, b.Epsilon);
        using var noGrad = no_grad();
        if (b.Scale is { } scale)
            norm.weight!.copy_(WeightedLayer.ToTensor(scale, [b.Channels], b.Name));
        if (b.Shift is { } shift)
            norm.bias!.copy_(WeightedLayer.ToTensor(shift, [b.Channels], b.Name));
        if (b.Mean is { } mean)
            norm.running_mean!.copy_(WeightedLayer.ToTensor(mean, [b.Channels], b.Name));
        if (b.Variance is { } variance)
            norm.running_var!.copy_(WeightedLayer.ToTensor(variance, [b.Channels], b.Name));
        return norm;
    }
}
