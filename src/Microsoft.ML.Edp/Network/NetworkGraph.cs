namespace Microsoft.ML.Edp.Network;

/// <summary>One layer of a network description. Its output value is named after the layer; <see cref="Inputs"/> name
/// the values it reads (the graph input is <see cref="NetworkGraph.InputName"/>). Names are stable: logs, the report,
/// checkpoints and the ONNX graph use them, so they hold only letters, digits and underscores.</summary>
internal abstract record LayerNode(string Name, string[] Inputs)
{
    public string Input => Inputs[0];
}

/// <summary>A square-kernel 2-D convolution. <c>Compressed</c> makes it a compressed-aware block. <c>Weight</c> and
/// <c>Bias</c> hold given (imported) values; without them it starts from PyTorch's default init. With <c>Groups</c> above
/// 1 (grouped and depthwise convs, imported only) each group of InChannels / Groups inputs feeds its own OutChannels /
/// Groups outputs; such a conv is always plain, since a low-rank basis would mix the groups.</summary>
internal sealed record ConvLayer(string Name, string Input, int InChannels, int OutChannels, int Kernel, int Stride, int Padding,
    bool Compressed, bool HasBias = false, DenseTensor? Weight = null, DenseTensor? Bias = null, int Groups = 1) : LayerNode(Name, [Input])
{
    /// <summary>The input channels each output channel reads: the weight's second dimension.</summary>
    public int GroupInChannels => InChannels / Groups;

    /// <summary>True for a depthwise conv: one filter per channel, so its channels are its input's.</summary>
    public bool IsDepthwise => Groups > 1 && Groups == InChannels && Groups == OutChannels;
}

/// <summary>A fully connected layer on [N, InFeatures] inputs, always with a bias.</summary>
internal sealed record LinearLayer(string Name, string Input, int InFeatures, int OutFeatures, bool Compressed,
    DenseTensor? Weight = null, DenseTensor? Bias = null) : LayerNode(Name, [Input]);

/// <summary>BatchNorm over channels, with given (imported) affine parameters and running statistics when present.</summary>
internal sealed record BatchNormLayer(string Name, string Input, int Channels, double Epsilon = 1e-5,
    DenseTensor? Scale = null, DenseTensor? Shift = null, DenseTensor? Mean = null, DenseTensor? Variance = null) : LayerNode(Name, [Input]);

/// <summary>ReLU, or with <c>Max</c> a clipped ReLU such as ReLU6 (ONNX Clip with min 0).</summary>
internal sealed record ReluLayer(string Name, string Input, float? Max = null) : LayerNode(Name, [Input]);

/// <summary>Max or average pooling with a square window; average pooling ignores padded cells (ONNX's default).
/// <c>CeilMode</c> rounds the output size up, as PyTorch and ONNX Runtime do: a last window that would start in the
/// padding is dropped.</summary>
internal sealed record PoolLayer(string Name, string Input, bool IsMax, int Kernel, int Stride, int Padding = 0, bool CeilMode = false) : LayerNode(Name, [Input]);

/// <summary>Constant padding of a [C, H, W] map on each side. Imports make it from ONNX Pad and from pads that a conv
/// or pool cannot take itself (unequal sides); <c>Value</c> is negative infinity only in front of a max pool.</summary>
internal sealed record PadLayer(string Name, string Input, int Top, int Left, int Bottom, int Right, float Value = 0) : LayerNode(Name, [Input]);

/// <summary>An element-wise activation other than ReLU (<see cref="ReluLayer"/> keeps ReLU and ReLU6).</summary>
internal sealed record ActivationLayer(string Name, string Input, Activation Kind, float Alpha = 0, float Beta = 0) : LayerNode(Name, [Input])
{
    /// <summary>True when f(0) = 0, so a pruned (all-zero) channel stays zero through it.</summary>
    public bool KeepsZero => Kind switch
    {
        Activation.HardSwish or Activation.SiLU or Activation.LeakyRelu => true,
        Activation.HardSigmoid => Beta <= 0,
        Activation.Clip => Alpha <= 0 && Beta >= 0,
        _ => false,
    };
}

/// <summary>x * Scale[c] + Shift[c] per channel: an imported model's input normalisation (Sub, Div, Mul or Add by
/// constants applied to the image), kept apart from the first conv because folding it in would change the padding.</summary>
internal sealed record ChannelAffineLayer(string Name, string Input, float[] Scale, float[] Shift) : LayerNode(Name, [Input]);

/// <summary>Global average pooling straight to [N, C], or with <c>KeepMap</c> to a [N, C, 1, 1] map (a
/// squeeze-excitation block's squeeze, which 1x1 convs read).</summary>
internal sealed record GlobalPoolLayer(string Name, string Input, bool KeepMap = false) : LayerNode(Name, [Input]);

/// <summary>The maps of <c>Inputs</c> stacked along the channels, in order (Concat on axis 1).</summary>
internal sealed record ConcatLayer(string Name, string[] Parts) : LayerNode(Name, Parts);

/// <summary>A map times a per-channel gate [C, 1, 1] computed from it: the excitation of a squeeze-excitation block.</summary>
internal sealed record ChannelGateLayer(string Name, string Input, string Gate) : LayerNode(Name, [Input, Gate]);

/// <summary>Output channel i is input channel <c>Channels[i]</c>: a channel shuffle (a permutation), or one part of a
/// Split or Slice on the channels (a range).</summary>
internal sealed record ChannelSelectLayer(string Name, string Input, long[] Channels) : LayerNode(Name, [Input]);

/// <summary>[N, C, H, W] to [N, C*H*W].</summary>
internal sealed record FlattenLayer(string Name, string Input) : LayerNode(Name, [Input]);

/// <summary>The element-wise sum of two values of the same shape: the residual join.</summary>
internal sealed record AddLayer(string Name, string Left, string Right) : LayerNode(Name, [Left, Right]);

/// <summary>A network description: an image input [N, C, H, W], layers in execution order (every input is defined
/// before it is read), and the value holding the class logits [N, Classes].</summary>
internal sealed record NetworkGraph(int InChannels, int Height, int Width, IReadOnlyList<LayerNode> Layers, string Output, int Classes)
{
    public const string InputName = "input";

    /// <summary>The shape of every value without the batch dimension: [C, H, W] for maps, [F] for features. Also checks
    /// that the graph is well formed, so a bad description fails here and not deep inside training.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes()
    {
        var shapes = new Dictionary<string, long[]> { [InputName] = [InChannels, Height, Width] };
        foreach (var layer in Layers)
        {
            var inputs = layer.Inputs.Select(i => shapes.TryGetValue(i, out var s) ? s
                : throw new InvalidOperationException($"Layer '{layer.Name}' reads '{i}', which no earlier layer produces.")).ToArray();
            var x = inputs[0];
            if (shapes.ContainsKey(layer.Name))
                throw new InvalidOperationException($"Two layers are named '{layer.Name}'.");
            shapes[layer.Name] = layer switch
            {
                ConvLayer c => Window(layer, x, c.InChannels, c.OutChannels, c.Kernel, c.Stride, c.Padding),
                PoolLayer p => Window(layer, x, null, x[0], p.Kernel, p.Stride, p.Padding, p.CeilMode),
                PadLayer p => x.Length == 3 ? [x[0], x[1] + p.Top + p.Bottom, x[2] + p.Left + p.Right] : throw Mismatch(layer, "a [C, H, W] map", x),
                ChannelAffineLayer a => x[0] == a.Scale.Length && x[0] == a.Shift.Length ? x : throw Mismatch(layer, $"{a.Scale.Length} channels", x),
                GlobalPoolLayer g => g.KeepMap ? [Window(layer, x, null, x[0], 1, 1, 0)[0], 1, 1] : Window(layer, x, null, x[0], 1, 1, 0)[..1],
                ConcatLayer => inputs.All(i => i.Length == 3 && i[1] == x[1] && i[2] == x[2]) ? [inputs.Sum(i => i[0]), x[1], x[2]]
                    : throw Mismatch(layer, $"maps of one size, {(x.Length == 3 ? $"{x[1]}x{x[2]}" : "[C, H, W]")}", inputs.First(i => i.Length != 3 || i[1] != x[1] || i[2] != x[2])),
                ChannelGateLayer => inputs[1].SequenceEqual([x[0], 1L, 1L]) ? x : throw Mismatch(layer, $"a gate [{x[0]}, 1, 1]", inputs[1]),
                ChannelSelectLayer s => x.Length == 3 && s.Channels.All(c => c >= 0 && c < x[0]) ? [s.Channels.Length, x[1], x[2]]
                    : throw Mismatch(layer, $"a map of more than {s.Channels.Max()} channels", x),
                FlattenLayer => [x.Aggregate(1L, (a, b) => a * b)],
                LinearLayer l => x.Length == 1 && x[0] == l.InFeatures ? [l.OutFeatures]
                    : throw Mismatch(layer, $"[{l.InFeatures}] features", x),
                BatchNormLayer b => x[0] == b.Channels ? x : throw Mismatch(layer, $"{b.Channels} channels", x),
                AddLayer => x.SequenceEqual(inputs[1]) ? x : throw Mismatch(layer, $"two inputs of one shape, [{string.Join(", ", x)}]", inputs[1]),
                _ => x,
            };
        }
        if (!shapes.TryGetValue(Output, out var output) || output.Length != 1 || output[0] != Classes)
            throw new InvalidOperationException($"The network output '{Output}' must be [{Classes}] class logits, found {(output is null ? "no such value" : $"[{string.Join(", ", output)}]")}.");
        return shapes;
    }

    /// <summary>Output height x width of every conv, the spatial factor of its MACs.</summary>
    public long OutputPixels(string layer, IReadOnlyDictionary<string, long[]> shapes)
        => shapes[layer] is { Length: 3 } s ? s[1] * s[2] : 1;

    /// <summary>The layers that read <paramref name="value"/>.</summary>
    public IEnumerable<LayerNode> Consumers(string value) => Layers.Where(l => l.Inputs.Contains(value));

    /// <summary>The output shape of a sliding window over a [C, H, W] map.</summary>
    private static long[] Window(LayerNode layer, long[] x, int? inChannels, long outChannels, int kernel, int stride, int padding, bool ceilMode = false)
    {
        if (x.Length != 3 || (inChannels is int c && x[0] != c))
            throw Mismatch(layer, inChannels is int n ? $"a [{n}, H, W] map" : "a [C, H, W] map", x);
        if (Math.Min(x[1], x[2]) + 2 * padding < kernel)
            throw Mismatch(layer, $"a map of at least {kernel - 2 * padding}x{kernel - 2 * padding} pixels for its {kernel}x{kernel} window", x);
        return [outChannels, WindowCount(x[1], kernel, stride, padding, padding, ceilMode), WindowCount(x[2], kernel, stride, padding, padding, ceilMode)];
    }

    /// <summary>How many windows fit along one axis of <paramref name="size"/> cells padded by <paramref name="before"/>
    /// and <paramref name="after"/>. With <paramref name="ceilMode"/> a partial last window counts, unless it would
    /// start in the padding after the map (PyTorch's rule, which ONNX Runtime follows).</summary>
    public static long WindowCount(long size, long kernel, long stride, long before, long after, bool ceilMode)
    {
        long span = size + before + after - kernel;
        if (!ceilMode)
            return span / stride + 1;
        long count = (span + stride - 1) / stride + 1;
        return (count - 1) * stride >= size + before ? count - 1 : count;
    }

    private static InvalidOperationException Mismatch(LayerNode layer, string expected, long[] found)
        => new($"Layer '{layer.Name}' ({layer.GetType().Name.Replace("Layer", "")}) expects {expected}, found [{string.Join(", ", found)}].");
}
