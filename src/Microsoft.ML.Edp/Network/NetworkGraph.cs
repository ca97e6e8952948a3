namespace Microsoft.ML.Edp.Network;

/// <summary>One layer of a network description. Its output value is named after the layer; <see cref="Inputs"/> name
/// the values it reads (the graph input is <see cref="NetworkGraph.InputName"/>). Names are stable: logs, the report,
/// checkpoints and the ONNX graph use them, so they hold only letters, digits and underscores. Each layer type states
/// the facts the rest of the library asks of it: its output shape, and what it does to channels.</summary>
internal abstract record LayerNode(string Name, string[] Inputs)
{
    public string Input => Inputs[0];

    /// <summary>True when output channel c depends only on input channel c and the layer has no per-channel parameters
    /// of its own, so the kept channels of its input are the kept channels of its output. (BatchNorm has parameters, but
    /// only the one that follows a conv or linear layer is kept, and it is folded into that layer.)</summary>
    public virtual bool PassesChannels => false;

    /// <summary>True when an all-zero channel stays exactly zero through the layer, so a pruned channel can be removed
    /// from the layers that read it further down.</summary>
    public virtual bool KeepsZeroChannels => false;

    /// <summary>The shape of the layer's output without the batch dimension, from its inputs' shapes in
    /// <see cref="Inputs"/> order; throws naming the layer when they do not fit it.</summary>
    public abstract long[] OutputShape(IReadOnlyList<long[]> inputs);

    /// <summary>The same layer reading the values <paramref name="source"/> maps its inputs to.</summary>
    public LayerNode ReadingFrom(Func<string, string> source) => this with { Inputs = [.. Inputs.Select(source)] };

    /// <summary>The output shape of a sliding window over a [C, H, W] map.</summary>
    protected long[] Window(long[] x, int? inChannels, long outChannels, int kernel, int stride, int padding, bool ceilMode = false)
    {
        if (x.Length != 3 || (inChannels is int c && x[0] != c))
            throw Mismatch(inChannels is int n ? $"a [{n}, H, W] map" : "a [C, H, W] map", x);
        if (Math.Min(x[1], x[2]) + 2 * padding < kernel)
            throw Mismatch($"a map of at least {kernel - 2 * padding}x{kernel - 2 * padding} pixels for its {kernel}x{kernel} window", x);
        return [outChannels, NetworkGraph.WindowCount(x[1], kernel, stride, padding, padding, ceilMode), NetworkGraph.WindowCount(x[2], kernel, stride, padding, padding, ceilMode)];
    }

    protected InvalidOperationException Mismatch(string expected, long[] found)
        => new($"Layer '{Name}' ({GetType().Name.Replace("Layer", "")}) expects {expected}, found [{string.Join(", ", found)}].");
}

/// <summary>A layer with a trained weight: a conv or a linear layer, what low-rank compression and channel pruning act
/// on. <c>Compressed</c> gives it groups to remove: as a compressed-aware block, or with <see cref="Factored"/> false as
/// a plain layer whose output channels are its only groups. <c>Weight</c> and <c>Bias</c> hold given values (imported,
/// or the final ones of an exported graph); without them it starts from PyTorch's default init.</summary>
internal abstract record WeightLayer(string Name, string Input, bool Compressed, bool HasBias, DenseTensor? Weight, DenseTensor? Bias)
    : LayerNode(Name, [Input])
{
    /// <summary>[out, in / groups, k, k] for a conv, [out, in] for a linear layer.</summary>
    public abstract long[] WeightShape { get; }

    /// <summary>Whether a compressed layer trains as a compressed-aware block (a basis and its coefficients, with rank
    /// and channel groups), rather than as a plain layer whose rows are its channel groups.</summary>
    public bool Factored { get; init; } = true;

    /// <summary>Whether the layer trains as a compressed-aware block.</summary>
    public bool IsBlock => Compressed && Factored;

    /// <summary>Output channels or features: the weight's first dimension.</summary>
    public int Outputs => (int)WeightShape[0];

    /// <summary>The output channels each input channel feeds: all of them, but for a grouped conv those of its group.</summary>
    public virtual int OutputsPerInput => Outputs;

    /// <summary>Weights per input and output channel pair: k x k for a conv, 1 for a linear layer.</summary>
    public long KernelArea => WeightShape.Skip(2).Aggregate(1L, (a, b) => a * b);

    /// <summary>Whether the layer adds a bias, given or initialised.</summary>
    public bool Biased => HasBias || Bias is not null;

    /// <summary>The weight and bias the layer carries, as every layer of an exported graph does; throws for a layer
    /// that would start from an initialisation.</summary>
    public (DenseTensor Weight, DenseTensor? Bias) Carried() => Weight is { } weight && (Bias is not null || !HasBias) ? (weight, Bias)
        : throw new InvalidOperationException($"Layer '{Name}' carries no {(Weight is null ? "weight" : "bias")}; only an exported graph, whose conv and linear layers hold their final weights, can be written to ONNX or run as the reference.");
}

/// <summary>A square-kernel 2-D convolution, by default without a bias. With <c>Groups</c> above 1 (grouped and
/// depthwise convs, imported only) each group of InChannels / Groups inputs feeds its own OutChannels / Groups outputs;
/// such a conv is always plain, since a low-rank basis would mix the groups.</summary>
internal sealed record ConvLayer(string Name, string Input, int InChannels, int OutChannels, int Kernel, int Stride, int Padding,
    bool Compressed, bool HasBias = false, DenseTensor? Weight = null, DenseTensor? Bias = null, int Groups = 1)
    : WeightLayer(Name, Input, Compressed, HasBias, Weight, Bias)
{
    /// <summary>The input channels each output channel reads: the weight's second dimension.</summary>
    public int GroupInChannels => InChannels / Groups;

    /// <summary>True for a depthwise conv: one filter per channel, so its channels are its input's.</summary>
    public bool IsDepthwise => Groups > 1 && Groups == InChannels && Groups == OutChannels;

    /// <summary>True for a grouped conv whose groups read and write as many channels (a depthwise conv is one): output
    /// channel c lies in the group of input channel c, so its channels can follow its input's, a whole group at a time.</summary>
    public bool ChannelsFollowInput => Groups > 1 && InChannels == OutChannels;

    public override int OutputsPerInput => OutChannels / Groups;

    public override long[] WeightShape => [OutChannels, GroupInChannels, Kernel, Kernel];

    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => Window(inputs[0], InChannels, OutChannels, Kernel, Stride, Padding);

    /// <summary>A plain conv carrying <paramref name="weight"/> [out, in / groups, k, k], its channels read from it.</summary>
    public static ConvLayer Of(string name, string input, DenseTensor weight, DenseTensor? bias, int stride, int padding, int groups = 1)
        => new(name, input, groups * (int)weight.Shape[1], (int)weight.Shape[0], (int)weight.Shape[2], stride, padding, Compressed: false,
            HasBias: bias is not null, weight, bias, groups);
}

/// <summary>A fully connected layer on [N, InFeatures] inputs, by default with a bias.</summary>
internal sealed record LinearLayer(string Name, string Input, int InFeatures, int OutFeatures, bool Compressed,
    DenseTensor? Weight = null, DenseTensor? Bias = null, bool HasBias = true) : WeightLayer(Name, Input, Compressed, HasBias, Weight, Bias)
{
    public override long[] WeightShape => [OutFeatures, InFeatures];

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[0] is [var f] && f == InFeatures ? [OutFeatures] : throw Mismatch($"[{InFeatures}] features", inputs[0]);

    /// <summary>A plain linear layer carrying <paramref name="weight"/> [out, in].</summary>
    public static LinearLayer Of(string name, string input, DenseTensor weight, DenseTensor? bias)
        => new(name, input, (int)weight.Shape[1], (int)weight.Shape[0], Compressed: false, weight, bias, HasBias: bias is not null);
}

/// <summary>BatchNorm over channels, with given (imported) affine parameters and running statistics when present.</summary>
internal sealed record BatchNormLayer(string Name, string Input, int Channels, double Epsilon = 1e-5,
    DenseTensor? Scale = null, DenseTensor? Shift = null, DenseTensor? Mean = null, DenseTensor? Variance = null) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => inputs[0][0] == Channels ? inputs[0] : throw Mismatch($"{Channels} channels", inputs[0]);
}

/// <summary>ReLU, or with <c>Max</c> a clipped ReLU such as ReLU6 (ONNX Clip with min 0).</summary>
internal sealed record ReluLayer(string Name, string Input, float? Max = null) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    public override bool KeepsZeroChannels => true;

    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => inputs[0];
}

/// <summary>Max or average pooling with a square window; average pooling ignores padded cells (ONNX's default).
/// <c>CeilMode</c> rounds the output size up, as PyTorch and ONNX Runtime do: a last window that would start in the
/// padding is dropped.</summary>
internal sealed record PoolLayer(string Name, string Input, bool IsMax, int Kernel, int Stride, int Padding = 0, bool CeilMode = false) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    public override bool KeepsZeroChannels => true;

    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => Window(inputs[0], null, inputs[0][0], Kernel, Stride, Padding, CeilMode);
}

/// <summary>Constant padding of a [C, H, W] map on each side. Imports make it from ONNX Pad and from pads that a conv
/// or pool cannot take itself (unequal sides); <c>Value</c> is negative infinity only in front of a max pool.</summary>
internal sealed record PadLayer(string Name, string Input, int Top, int Left, int Bottom, int Right, float Value = 0) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    /// <summary>Zero padding keeps a zero channel zero. So does a max pool's negative-infinity padding, because the
    /// importer puts it only in front of a max pool, whose every window holds a map cell.</summary>
    public override bool KeepsZeroChannels => Value == 0 || float.IsNegativeInfinity(Value);

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[0] is [var c, var h, var w] ? [c, h + Top + Bottom, w + Left + Right] : throw Mismatch("a [C, H, W] map", inputs[0]);
}

/// <summary>An element-wise activation other than ReLU (<see cref="ReluLayer"/> keeps ReLU and ReLU6).</summary>
internal sealed record ActivationLayer(string Name, string Input, Activation Kind, float Alpha = 0, float Beta = 0) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    /// <summary>True when f(0) = 0.</summary>
    public override bool KeepsZeroChannels => Kind switch
    {
        Activation.HardSwish or Activation.SiLU or Activation.LeakyRelu => true,
        Activation.HardSigmoid => Beta <= 0,
        Activation.Clip => Alpha <= 0 && Beta >= 0,
        _ => false,
    };

    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => inputs[0];
}

/// <summary>x * Scale[c] + Shift[c] per channel, fixed: an imported model's input normalisation (Sub, Div, Mul or Add by
/// constants applied to the image), kept apart from the first conv because folding it in would change the padding; or an
/// imported BatchNorm that follows no conv of its own (DenseNet's on each Concat), at its running statistics, or such a
/// step written as Mul and Add (how this library exports it). A zero channel does not stay zero through it, so the
/// layers whose channels reach it are not pruned.</summary>
internal sealed record ChannelAffineLayer(string Name, string Input, float[] Scale, float[] Shift) : LayerNode(Name, [Input])
{
    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[0][0] == Scale.Length && inputs[0][0] == Shift.Length ? inputs[0] : throw Mismatch($"{Scale.Length} channels", inputs[0]);
}

/// <summary>Global average pooling straight to [N, C], or with <c>KeepMap</c> to a [N, C, 1, 1] map (a
/// squeeze-excitation block's squeeze, which 1x1 convs read).</summary>
internal sealed record GlobalPoolLayer(string Name, string Input, bool KeepMap = false) : LayerNode(Name, [Input])
{
    public override bool PassesChannels => true;

    public override bool KeepsZeroChannels => true;

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
    {
        long channels = Window(inputs[0], null, inputs[0][0], 1, 1, 0)[0];
        return KeepMap ? [channels, 1, 1] : [channels];
    }
}

/// <summary>The maps of <c>Parts</c> stacked along the channels, in order (Concat on axis 1).</summary>
internal sealed record ConcatLayer(string Name, string[] Parts) : LayerNode(Name, Parts)
{
    public string[] Parts => Inputs;

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
    {
        var x = inputs[0];
        return inputs.FirstOrDefault(i => i.Length != 3 || i[1] != x[1] || i[2] != x[2]) is { } odd
            ? throw Mismatch($"maps of one size, {(x.Length == 3 ? $"{x[1]}x{x[2]}" : "[C, H, W]")}", odd)
            : [inputs.Sum(i => i[0]), x[1], x[2]];
    }
}

/// <summary>A map times a per-channel gate [C, 1, 1] computed from it: the excitation of a squeeze-excitation block.</summary>
internal sealed record ChannelGateLayer(string Name, string Input, string Gate) : LayerNode(Name, [Input, Gate])
{
    public string Gate => Inputs[1];

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[1].SequenceEqual([inputs[0][0], 1L, 1L]) ? inputs[0] : throw Mismatch($"a gate [{inputs[0][0]}, 1, 1]", inputs[1]);
}

/// <summary>Output channel i is input channel <c>Channels[i]</c>: a channel shuffle (a permutation), or one part of a
/// Split or Slice on the channels (a range).</summary>
internal sealed record ChannelSelectLayer(string Name, string Input, long[] Channels) : LayerNode(Name, [Input])
{
    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[0] is [var c, var h, var w] && Channels.All(i => i >= 0 && i < c) ? [Channels.Length, h, w]
            : throw Mismatch($"a map of more than {Channels.Max()} channels", inputs[0]);
}

/// <summary>[N, C, H, W] to [N, C*H*W].</summary>
internal sealed record FlattenLayer(string Name, string Input) : LayerNode(Name, [Input])
{
    public override long[] OutputShape(IReadOnlyList<long[]> inputs) => [inputs[0].Aggregate(1L, (a, b) => a * b)];
}

/// <summary>The element-wise sum of two values of the same shape: the residual join.</summary>
internal sealed record AddLayer(string Name, string Left, string Right) : LayerNode(Name, [Left, Right])
{
    public string Left => Inputs[0];

    public string Right => Inputs[1];

    public override long[] OutputShape(IReadOnlyList<long[]> inputs)
        => inputs[0].SequenceEqual(inputs[1]) ? inputs[0] : throw Mismatch($"two inputs of one shape, [{string.Join(", ", inputs[0])}]", inputs[1]);
}

/// <summary>A network description: an image input [N, C, H, W], layers in execution order (every input is defined
/// before it is read), and the value holding the class logits [N, Classes]. An exported (inference) graph is one too:
/// its conv and linear layers carry their final weights, with BatchNorm folded in and a kept low-rank pair written as
/// two plain layers.</summary>
internal sealed record NetworkGraph(int InChannels, int Height, int Width, IReadOnlyList<LayerNode> Layers, string Output, int Classes)
{
    public const string InputName = "input";

    /// <summary>Whether a residual stream's channels may be removed, every member's at once; false keeps every stream
    /// whole, so that only channels inside blocks and ranks go (<see cref="EdpCompressOptions.PruneResidualStreams"/>).</summary>
    public bool PruneResidualStreams { get; init; } = true;

    /// <summary>The shape of every value without the batch dimension: [C, H, W] for maps, [F] for features. Also checks
    /// that the graph is well formed, so a bad description fails here and not deep inside training.</summary>
    public IReadOnlyDictionary<string, long[]> Shapes()
    {
        var shapes = new Dictionary<string, long[]> { [InputName] = [InChannels, Height, Width] };
        foreach (var layer in Layers)
        {
            var inputs = layer.Inputs.Select(i => shapes.TryGetValue(i, out var s) ? s
                : throw new InvalidOperationException($"Layer '{layer.Name}' reads '{i}', which no earlier layer produces.")).ToArray();
            if (shapes.ContainsKey(layer.Name))
                throw new InvalidOperationException($"Two layers are named '{layer.Name}'.");
            shapes[layer.Name] = layer.OutputShape(inputs);
        }
        if (!shapes.TryGetValue(Output, out var output) || output.Length != 1 || output[0] != Classes)
            throw new InvalidOperationException($"The network output '{Output}' must be [{Classes}] class logits, found {(output is null ? "no such value" : $"[{string.Join(", ", output)}]")}.");
        return shapes;
    }

    /// <summary>Output height x width of every conv, the spatial factor of its MACs.</summary>
    public long OutputPixels(string layer, IReadOnlyDictionary<string, long[]> shapes)
        => shapes[layer] is { Length: 3 } s ? s[1] * s[2] : 1;

    /// <summary>This graph with its compressed layers trained as compressed-aware blocks, or with
    /// <paramref name="decompose"/> false as plain layers with channel groups (<see cref="WeightLayer.Factored"/>).</summary>
    public NetworkGraph Decomposed(bool decompose)
        => decompose ? this : this with { Layers = [.. Layers.Select(l => l is WeightLayer w ? w with { Factored = false } : l)] };

    /// <summary>The layers that read <paramref name="value"/>.</summary>
    public IEnumerable<LayerNode> Consumers(string value) => Layers.Where(l => l.Inputs.Contains(value));

    /// <summary>The weights and biases the conv and linear layers carry: an exported graph's stored parameters.</summary>
    public long ParameterCount => Layers.OfType<WeightLayer>().Sum(w => (w.Weight?.Count ?? 0L) + (w.Bias?.Count ?? 0L));

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
}
