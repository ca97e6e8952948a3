using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>One translation per ONNX operator.</summary>
internal sealed partial class OnnxGraphImporter
{
    private void Conv(OnnxNodeReader n)
    {
        n.AllowOnly("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
        var x = Map(n, 0, "input");
        var w = Floats(n, 1, "weight");
        var b = OptionalFloats(n, 2, "bias");
        if (w.Shape.Length != 4)
            throw n.Fail($"has a weight of shape [{Dims(w.Shape)}]; only 2-D convolutions, with a weight [out, in, k, k], are supported");
        long k = w.Shape[2];
        if (w.Shape[3] != k)
            throw n.Fail($"has a {w.Shape[2]}x{w.Shape[3]} kernel; only square kernels are supported");
        if (k < 1 || k > OnnxNodeReader.MaxWindow || w.Shape[0] < 1)
            throw n.Fail($"has a weight of shape [{Dims(w.Shape)}], which is empty or too large");
        if (n.Ints("kernel_shape") is { } ks && !(ks.Length == 2 && ks[0] == k && ks[1] == k))
            throw n.Fail($"has kernel_shape [{Dims(ks)}], which disagrees with its weight [{Dims(w.Shape)}]");
        if (n.SquarePair("dilations", 1, 1) is var d and not 1)
            throw n.Fail($"has dilation {d}; only dilation 1 is supported");
        long stride = n.SquarePair("strides", 1, 1);
        var input = ImageMap(n, x);
        long group = n.Int("group", 1);
        if (group < 1 || group > input[0] || input[0] % group != 0 || w.Shape[0] % group != 0)
            throw n.Fail($"has group {group} for {input[0]} input and {w.Shape[0]} output channels; the group count must divide both");
        if (input[0] != w.Shape[1] * group)
            throw n.Fail($"has a weight for {w.Shape[1]} input channels{(group > 1 ? $" in each of {group} groups" : "")}, but its input '{n.Node.Input[0]}' has {input[0]} channels");
        if (b is not null && !(b.Shape.Length == 1 && b.Shape[0] == w.Shape[0]))
            throw n.Fail($"has a bias of shape [{Dims(b.Shape)}]; [{w.Shape[0]}] is expected");
        var placed = PlaceWindow(n, x, k, stride, ceilMode: false, padValue: 0, isPool: false);
        var layer = new ConvLayer(_names.Unique(n.LayerName), placed.Input.Layer, (int)input[0], (int)w.Shape[0], (int)k, (int)stride, placed.Padding,
            Compressed: group == 1, HasBias: b is not null, Weight: w, Bias: b, Groups: (int)group);
        Bind(n.Output(IsRead), Emit(layer));
    }

    private void BatchNorm(OnnxNodeReader n)
    {
        n.AllowOnly("epsilon", "momentum", "spatial", "training_mode");
        if (n.Int("spatial", 1) != 1)
            throw n.Fail("has spatial 0 (statistics per value rather than per channel); only spatial BN is supported");
        if (n.Int("training_mode", 0) != 0)
            throw n.Fail("runs in training mode; only inference BN with fixed running statistics is supported");
        var x = Map(n, 0, "input");
        var producer = _layerIndex.TryGetValue(x.Layer, out int at) ? _layers[at] : null;
        bool folds = producer is WeightLayer && _layerReads[x.Layer] == 1;
        if (!folds && x.Shape.Length != 3)
            throw n.Fail($"normalises features [N, {Dims(x.Shape)}] that no Gemm of its own computes; a BatchNormalization of features must directly follow the Gemm or MatMul whose output nothing else reads, because Pruning & Merging folds it into that layer");
        long channels = x.Shape[0];
        var p = new DenseTensor[4];
        string[] what = ["scale", "bias", "mean", "variance"];
        for (int i = 0; i < 4; i++)
        {
            p[i] = Floats(n, i + 1, what[i]);
            if (p[i].Values.Length != channels || p[i].Shape.Length != 1)
                throw n.Fail($"has a {what[i]} of shape [{Dims(p[i].Shape)}], but its input has {channels} channels");
        }
        if (p[3].Values.Any(v => !(v >= 0)))
            throw n.Fail("has a negative or NaN running variance");
        float epsilon = n.Float("epsilon", 1e-5f);
        if (!(epsilon >= 0) || float.IsInfinity(epsilon))
            throw n.Fail($"has epsilon {epsilon}; a finite epsilon >= 0 is expected");
        if (folds)
        {
            Bind(n.Output(IsRead), Emit(new BatchNormLayer(_names.Unique(n.LayerName), x.Layer, (int)channels, epsilon, p[0], p[1], p[2], p[3])));
            return;
        }
        // A BN that follows no conv of its own (DenseNet's, on each Concat before a conv) is, at inference, a fixed
        // scale and shift per channel.
        var scale = new float[channels];
        var shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            if (p[3].Values[c] + (double)epsilon <= 0)
                throw n.Fail($"has a running variance of 0 and epsilon 0 on channel {c}, which divides by zero");
            double s = p[0].Values[c] / Math.Sqrt(p[3].Values[c] + (double)epsilon);
            (scale[c], shift[c]) = ((float)s, (float)(p[1].Values[c] - p[2].Values[c] * s));
        }
        Bind(n.Output(IsRead), Emit(new ChannelAffineLayer(_names.Unique(n.LayerName), x.Layer, scale, shift)));
    }

    private void Pool(OnnxNodeReader n, bool isMax)
    {
        n.AllowOnly(isMax ? ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"]
            : ["auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"]);
        var x = Map(n, 0, "input");
        if (!n.Has("kernel_shape"))
            throw n.Fail("has no kernel_shape");
        var input = ImageMap(n, x);
        if (!isMax && IsWholeMap(n, input))
        {
            // An average over the whole map is a global pool, which keeps working when the image size changes.
            Bind(n.Output(IsRead), new PooledValue(n.LayerName, x));
            return;
        }
        long k = n.SquarePair("kernel_shape", 0, 1);
        long stride = n.SquarePair("strides", 1, 1);
        if (n.SquarePair("dilations", 1, 1) is var d and not 1)
            throw n.Fail($"has dilation {d}; only dilation 1 is supported");
        bool ceilMode = n.Int("ceil_mode", 0) != 0;
        bool countsPadding = !isMax && n.Int("count_include_pad", 0) != 0;
        if (countsPadding && ceilMode && n.Pads(input[1], input[2], k, stride).Any(p => p != 0))
            throw n.Fail("has count_include_pad 1 and ceil_mode 1 with padding; only one of them is supported where there is padding");
        // A max pool's padding never wins; an average that counts padded cells sees zeros there.
        float? padValue = isMax ? float.NegativeInfinity : countsPadding ? 0 : null;
        var placed = PlaceWindow(n, x, k, stride, ceilMode, padValue, isPool: true);
        // Padding the pool applies itself is left out of averages, so an average that counts it pads explicitly.
        if (countsPadding && placed.Padding > 0)
            placed = new Placed(Emit(new PadLayer(_names.Unique(n.LayerName + "_pad"), x.Layer, placed.Padding, placed.Padding, placed.Padding, placed.Padding)), 0);
        Bind(n.Output(IsRead), Emit(new PoolLayer(_names.Unique(n.LayerName), placed.Input.Layer, isMax, (int)k, (int)stride, placed.Padding, ceilMode)));
    }

    /// <summary>True for an unpadded AveragePool whose window is the whole map (a [C, H, W] map to [C, 1, 1]). A window
    /// larger than the map is one too: the file's own image size fits it exactly, and the model is being read at a
    /// smaller one.</summary>
    private static bool IsWholeMap(OnnxNodeReader n, long[] input)
        => n.Ints("kernel_shape") is [var kh, var kw] && kh >= input[1] && kw >= input[2]
            && n.Pads(input[1], input[2], Math.Max(kh, kw), 1).All(p => p == 0) && n.SquarePair("dilations", 1, 1) == 1;

    private void GlobalAveragePool(OnnxNodeReader n)
    {
        n.AllowOnly();
        var x = Map(n, 0, "input");
        ImageMap(n, x);
        Bind(n.Output(IsRead), new PooledValue(n.LayerName, x));
    }

    private void Flatten(OnnxNodeReader n)
    {
        n.AllowOnly("axis");
        var v = Read(n, 0, "input");
        long axis = n.Int("axis", 1);
        if ((axis < 0 ? axis + 1 + Shape(v).Length : axis) != 1)
            throw n.Fail($"flattens at axis {axis}; only axis 1 (keep the batch, flatten the rest) is supported");
        BindFeatures(n, v);
    }

    /// <summary>A reshape to [batch, features]; or a step of a channel shuffle (to [batch, g, C / g, H, W] and, after
    /// the Transpose, back to [batch, C, H, W]); or one that changes nothing.</summary>
    private void Reshape(OnnxNodeReader n)
    {
        n.AllowOnly("allowzero");
        var v = Read(n, 0, "input");
        var target = ShapeInput(n, 1);
        var s = Shape(v);
        long rest = s.Aggregate(1L, (a, b) => a * b);
        var dims = Resolve(target, s, n.Int("allowzero", 0) != 0);
        switch (v, dims)
        {
            case (_, [_]):
                BindFeatures(n, v);
                return;
            case (MapValue m, [var g, var inner, var h, var w]) when g * inner == m.Shape[0] && h == m.Shape[1] && w == m.Shape[2]:
                Bind(n.Output(IsRead), new GroupedValue(m, g));
                return;
            case (ShuffledValue shuffled, [_, _, _]) when dims.SequenceEqual(shuffled.Source.Shape):
                Bind(n.Output(IsRead), Emit(new ChannelSelectLayer(_names.Unique(n.LayerName), shuffled.Source.Layer, Shuffle(shuffled.Source.Shape[0], shuffled.Groups))));
                return;
            case (MapValue m, [_, _, _]) when dims.SequenceEqual(m.Shape):
                PassThrough(n, n.Node.Input[0]);
                return;
        }
        throw n.Fail($"reshapes its [N, {Dims(s)}] input to [{ShapeText(target)}]; only a reshape to [batch, {rest}], the steps of a channel shuffle ([batch, groups, channels / groups, H, W], Transpose, [batch, channels, H, W]) and one that changes nothing are supported");
    }

    /// <summary>The target shape without the batch, its 0s and -1 resolved, or null when it does not keep the batch.</summary>
    private long[]? Resolve(long[] target, long[] s, bool allowZero)
    {
        if (target.Length < 2)
            return null;
        bool batchKept = target[0] == BatchDim || (target[0] == 0 && !allowZero) || (_header.FixedBatch is long batch && target[0] == batch);
        if (!batchKept && target[0] != -1)
            return null;
        long rest = s.Aggregate(1L, (a, b) => a * b), known = 1;
        int unknown = target[0] == -1 ? -2 : -1;
        var dims = new long[target.Length - 1];
        for (int i = 0; i < dims.Length; i++)
        {
            long t = target[i + 1] == 0 && !allowZero ? (i < s.Length ? s[i] : -2) : target[i + 1];
            if (t == -1 && unknown == -1)
                unknown = i;
            else if (t < 1 || t > rest)
                return null;
            else if ((known *= dims[i] = t) > rest)
                return null;
        }
        if (unknown >= 0)
            return rest % known == 0 ? (dims[unknown] = rest / known) > 0 ? dims : null : null;
        return known == rest ? dims : null;
    }

    /// <summary>The channel order of x.view(N, g, C / g, H, W).transpose(1, 2).reshape(N, C, H, W): output channel
    /// b * g + a is input channel a * (C / g) + b.</summary>
    private static long[] Shuffle(long channels, long groups)
    {
        long inner = channels / groups;
        var order = new long[channels];
        for (long a = 0; a < groups; a++)
            for (long b = 0; b < inner; b++)
                order[b * groups + a] = a * inner + b;
        return order;
    }

    private void BindFeatures(OnnxNodeReader n, Value v)
    {
        var features = Features(n, v);
        Bind(n.Output(IsRead), features, passedThrough: v is MapValue m && m.Layer == features.Layer);
    }

    private void Gemm(OnnxNodeReader n)
    {
        n.AllowOnly("alpha", "beta", "transA", "transB");
        if (n.Int("transA", 0) != 0)
            throw n.Fail("has transA 1; only transA 0 (the input as [batch, features]) is supported");
        var x = FeatureInput(n);
        var b = Floats(n, 1, "weight");
        bool transB = n.Int("transB", 0) != 0;
        if (b.Shape.Length != 2)
            throw n.Fail($"has a weight of shape [{Dims(b.Shape)}]; a 2-D weight is expected");
        long inFeatures = b.Shape[transB ? 1 : 0], outFeatures = b.Shape[transB ? 0 : 1];
        if (inFeatures != x.Shape[0] || outFeatures < 1)
            throw n.Fail($"has a weight [{Dims(b.Shape)}] (transB {(transB ? 1 : 0)}) for {inFeatures} inputs, but its input has {x.Shape[0]} features");
        float alpha = n.Float("alpha", 1), beta = n.Float("beta", 1);
        var weight = transB ? (float[])b.Values.Clone() : Transpose(b);
        if (alpha != 1)
            for (int i = 0; i < weight.Length; i++)
                weight[i] *= alpha;
        var bias = new float[outFeatures];
        if (OptionalFloats(n, 2, "bias") is { } c)
            AddBroadcast(n, bias, c, beta);
        Linear(n, x, weight, bias);
    }

    private void MatMul(OnnxNodeReader n)
    {
        n.AllowOnly();
        var x = FeatureInput(n);
        var b = Floats(n, 1, "weight");
        if (b.Shape.Length != 2 || b.Shape[0] != x.Shape[0] || b.Shape[1] < 1)
            throw n.Fail($"multiplies {x.Shape[0]} features by a weight [{Dims(b.Shape)}]; a weight [{x.Shape[0]}, outputs] is expected");
        Linear(n, x, Transpose(b), new float[b.Shape[1]]);
    }

    private void Linear(OnnxNodeReader n, MapValue x, float[] weight, float[] bias)
    {
        int outFeatures = bias.Length, inFeatures = (int)x.Shape[0];
        var layer = new LinearLayer(_names.Unique(n.LayerName), x.Layer, inFeatures, outFeatures, Compressed: true,
            new DenseTensor([outFeatures, inFeatures], weight), new DenseTensor([outFeatures], bias));
        Bind(n.Output(IsRead), Emit(layer));
    }

    private float[] Biased(OnnxNodeReader n, DenseTensor? bias, int count, DenseTensor c, bool channelAxis)
    {
        var sum = bias is null ? new float[count] : (float[])bias.Values.Clone();
        // A conv's per-channel constant is [C, 1, 1] or [1, C, 1, 1]; a linear layer's is [F] or [1, F].
        var s = c.Shape;
        bool perChannel = channelAxis ? s.Length >= 3 && s[^3] == count && s[^2] == 1 && s[^1] == 1 && s[..^3].All(d => d == 1)
            : s.Length >= 1 && s[^1] == count && s[..^1].All(d => d == 1);
        if (!perChannel && c.Values.Length != 1)
            throw n.Fail($"adds a constant of shape [{Dims(s)}]; as a bias it must hold one value per {(channelAxis ? $"channel ([{count}, 1, 1])" : $"output ([{count}])")} or a single value");
        AddBroadcast(n, sum, c, 1);
        return sum;
    }

    /// <summary>Adds beta * c to <paramref name="bias"/>, c being one value per output or one value for all.</summary>
    private static void AddBroadcast(OnnxNodeReader n, float[] bias, DenseTensor c, float beta)
    {
        var s = c.Shape;
        if (c.Values.Length == 1)
            for (int i = 0; i < bias.Length; i++)
                bias[i] += beta * c.Values[0];
        else if (c.Values.Length == bias.Length && s.Length >= 1 && s[^1] == bias.Length)
            for (int i = 0; i < bias.Length; i++)
                bias[i] += beta * c.Values[i];
        else
            throw n.Fail($"has a bias of shape [{Dims(s)}]; one value per output ([{bias.Length}]) or a single value is expected");
    }

    /// <summary>Softmax, LogSoftmax or ArgMax of the class scores at the end of the graph (read by nothing but each
    /// other and the graph outputs): dropped, so the network outputs the logits they are computed from, which is what
    /// EDP trains and exports.</summary>
    private void ClassScoreOutput(OnnxNodeReader n)
    {
        n.AllowOnly(n.OpType == "ArgMax" ? ["axis", "keepdims", "select_last_index"] : ["axis"]);
        var output = n.Output(IsRead);
        if (_readByLayers.Contains(output))
            throw n.Fail($"is read by other nodes; a {n.OpType} is supported only at the end of the graph, where the importer drops it and keeps the logits");
        if (Read(n, 0, "input") is not MapValue { Shape.Length: 1 } x)
            throw n.Fail($"reads a [C, H, W] map; only a {n.OpType} over class scores [batch, classes] is supported");
        long axis = n.Int("axis", n.OpType == "ArgMax" ? 0 : _header.Opset >= 13 ? -1 : 1);
        if (axis is not (1 or -1))
            throw n.Fail($"works along axis {axis}; only the class axis (1 or -1) is supported");
        Bind(output, x, passedThrough: true);
    }

    private void Dropout(OnnxNodeReader n)
    {
        if (_header.Opset < 12)
            n.AllowOnly("ratio");
        else
        {
            n.AllowOnly("seed");
            if (n.Input(2) is not null && OnnxTensorReader.Integers(ConstantProto(n, 2, "training_mode"), r => n.Fail($"training_mode: {r}")).Any(v => v != 0))
                throw n.Fail("runs in training mode; only inference Dropout (a pass-through) is supported");
        }
        PassThrough(n, n.RequiredInput(0, "input"));
    }

    // ---- shapes ----

    private static long[] Shape(Value v) => v switch
    {
        MapValue m => m.Shape,
        PooledValue p => [p.Source.Shape[0], 1, 1],
        GroupedValue g => [g.Groups, g.Source.Shape[0] / g.Groups, g.Source.Shape[1], g.Source.Shape[2]],
        ShuffledValue s => [s.Source.Shape[0] / s.Groups, s.Groups, s.Source.Shape[1], s.Source.Shape[2]],
        _ => throw new InvalidOperationException("Unreachable: every value is a map or a pooled value."),
    };

    private static long[] ImageMap(OnnxNodeReader n, MapValue x)
        => x.Shape.Length == 3 ? x.Shape
            : throw n.Fail($"reads '{n.Node.Input[0]}', features [N, {Dims(x.Shape)}]; it needs a [N, C, H, W] map");

    private MapValue FeatureInput(OnnxNodeReader n)
        => Read(n, 0, "input") is MapValue { Shape.Length: 1 } x ? x
            : throw n.Fail($"reads '{n.Node.Input[0]}', a [N, C, H, W] map; it needs [batch, features] (Flatten or Reshape it first)");

    private static float[] Transpose(DenseTensor t)
    {
        long rows = t.Shape[0], cols = t.Shape[1];
        var result = new float[t.Values.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
                result[c * rows + r] = t.Values[r * cols + c];
        return result;
    }

    private static string Kind(LayerNode layer) => layer switch
    {
        ConvLayer => "Conv",
        LinearLayer => "Gemm or MatMul",
        BatchNormLayer => "BatchNormalization",
        ReluLayer => "Relu or Clip",
        ActivationLayer a => a.Kind.ToString(),
        PadLayer => "Pad",
        ChannelAffineLayer => "Sub, Div, Mul or Add by a constant",
        PoolLayer p => p.IsMax ? "MaxPool" : "AveragePool",
        GlobalPoolLayer => "GlobalAveragePool",
        FlattenLayer => "Flatten or Reshape",
        AddLayer => "Add",
        ConcatLayer => "Concat",
        ChannelGateLayer => "Mul",
        ChannelSelectLayer => "Split, Slice or a channel shuffle",
        _ => layer.GetType().Name,
    };

    private static string Dims(IEnumerable<long> dims) => string.Join(", ", dims);
}
