using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

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
                ReluLayer { Max: float max } => input.clamp(0, max),
                ReluLayer => F.relu(input),
                PoolLayer { IsMax: true } p => F.max_pool2d(input, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode),
                PoolLayer p => F.avg_pool2d(input, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode, count_include_pad: false),
                PadLayer p => F.pad(input, [p.Left, p.Right, p.Top, p.Bottom], value: p.Value),
                ActivationLayer a => Activations.Apply(input, a.Kind, a.Alpha, a.Beta),
                ChannelAffineLayer a => input * tensor(a.Scale, [a.Scale.Length, 1, 1], device: input.device) + tensor(a.Shift, [a.Shift.Length, 1, 1], device: input.device),
                GlobalPoolLayer g => input.mean([2, 3], keepdim: g.KeepMap),
                ConcatLayer c => cat(c.Inputs.Select(i => values[i]).ToArray(), 1),
                ChannelGateLayer g => input * values[g.Gate],
                ChannelSelectLayer s => input.index_select(1, tensor(s.Channels, device: input.device)),
                FlattenLayer => input.flatten(1),
                AddLayer add => input + values[add.Inputs[1]],
                _ => throw new NotSupportedException($"Layer '{layer.Name}' of type {layer.GetType().Name} has no TorchSharp mapping."),
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
