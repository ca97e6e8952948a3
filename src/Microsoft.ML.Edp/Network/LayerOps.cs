using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.Edp.Network;

/// <summary>What each layer computes in TorchSharp: one definition for the trainable network and for the export's
/// float64 reference, which therefore agree on everything but where the weights come from.</summary>
internal static class LayerOps
{
    /// <summary>A conv or linear layer's output with the given weight and bias.</summary>
    public static Tensor Weighted(WeightLayer layer, Tensor input, Tensor weight, Tensor? bias) => layer is ConvLayer c
        ? F.conv2d(input, weight, bias, strides: [c.Stride, c.Stride], padding: [c.Padding, c.Padding], groups: c.Groups)
        : F.linear(input, weight, bias);

    /// <summary>The output of <paramref name="layer"/>, which has no trained parameters, on <paramref name="input"/> (the value of its first input),
    /// reading any other input from <paramref name="values"/>.</summary>
    public static Tensor Forward(LayerNode layer, Tensor input, IReadOnlyDictionary<string, Tensor> values) => layer switch
    {
        ReluLayer { Max: float max } => input.clamp(0, max),
        ReluLayer => F.relu(input),
        PoolLayer { IsMax: true } p => F.max_pool2d(input, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode),
        PoolLayer p => F.avg_pool2d(input, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode, count_include_pad: false),
        PadLayer p => F.pad(input, [p.Left, p.Right, p.Top, p.Bottom], value: p.Value),
        ActivationLayer a => Activations.Apply(input, a.Kind, a.Alpha, a.Beta),
        ChannelAffineLayer a => input * PerChannel(a.Scale, input) + PerChannel(a.Shift, input),
        GlobalPoolLayer g => input.mean([2, 3], keepdim: g.KeepMap),
        ConcatLayer c => cat(c.Inputs.Select(i => values[i]).ToArray(), 1),
        ChannelGateLayer g => input * values[g.Gate],
        ChannelSelectLayer s => input.index_select(1, tensor(s.Channels, device: input.device)),
        FlattenLayer => input.flatten(1),
        AddLayer add => input + values[add.Right],
        _ => throw new NotSupportedException($"Layer '{layer.Name}' of type {layer.GetType().Name} has no TorchSharp mapping without its parameters."),
    };

    /// <summary>Per-channel constants [C, 1, 1] on the input's device; float64 input promotes them exactly.</summary>
    private static Tensor PerChannel(float[] values, Tensor like) => tensor(values, [values.Length, 1, 1], device: like.device);
}
