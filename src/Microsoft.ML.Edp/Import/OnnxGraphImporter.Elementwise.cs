using Microsoft.ML.Edp.Network;
using Onnx;

namespace Microsoft.ML.Edp.Import;

/// <summary>Activations, explicit Pad, and arithmetic with constants: a bias, or the input's normalisation.</summary>
internal sealed partial class OnnxGraphImporter
{
    private void Activate(OnnxNodeReader n, Activation kind, float alpha = 0, float beta = 0)
        => Unary(n, (name, x) => new ActivationLayer(name, x, kind, alpha, beta));

    /// <summary>Clip with min 0 is a ReLU (or ReLU6 and its kin with a max); any other bounds clip as they say.</summary>
    private void Clip(OnnxNodeReader n)
    {
        float? min, max;
        if (_header.Opset < 11)
        {
            n.AllowOnly("min", "max");
            min = n.Has("min") ? n.Float("min", 0) : null;
            max = n.Has("max") ? n.Float("max", 0) : null;
        }
        else
        {
            n.AllowOnly();
            min = Scalar(n, 1, "min");
            max = Scalar(n, 2, "max");
        }
        if (min is float lo && max is float hi && !(lo <= hi))
            throw n.Fail($"clips at min {lo} and max {hi}; a min at most the max is expected");
        if (min is float.NaN || max is float.NaN)
            throw n.Fail("has a NaN bound");
        if (min == 0f && max is not 0f)
        {
            float? cap = max is float c && !float.IsPositiveInfinity(c) && c < float.MaxValue ? c : null;
            Unary(n, (name, x) => new ReluLayer(name, x, cap));
            return;
        }
        Activate(n, Activation.Clip, min ?? float.NegativeInfinity, max ?? float.PositiveInfinity);
    }

    /// <summary>Constant padding of height and width; the batch and channel axes are left alone.</summary>
    private void Pad(OnnxNodeReader n)
    {
        long[] pads;
        float value = 0;
        string mode;
        if (_header.Opset < 11)
        {
            n.AllowOnly("mode", "pads", "value");
            mode = n.String("mode", "constant");
            pads = n.Ints("pads") ?? throw n.Fail("has no pads");
            value = n.Float("value", 0);
        }
        else
        {
            n.AllowOnly("mode");
            mode = n.String("mode", "constant");
            pads = OnnxTensorReader.Integers(ConstantProto(n, 1, "pads"), reason => n.Fail($"pads: {reason}"));
            if (n.Input(2) is not null)
                value = Scalar(n, 2, "constant_value") ?? 0;
            if (n.Input(3) is not null)
                pads = AllAxes(n, pads, OnnxTensorReader.Integers(ConstantProto(n, 3, "axes"), reason => n.Fail($"axes: {reason}")));
        }
        if (mode != "constant")
            throw n.Fail($"pads in mode '{mode}'; only constant padding is supported");
        // Negative infinity is a max pool's padding (how this library exports unequal pads in front of one).
        if (!float.IsFinite(value) && !(float.IsNegativeInfinity(value) && ReadOnlyByMaxPools(n.Node.Output[0])))
            throw n.Fail($"pads with the value {value}; a finite value is expected, or negative infinity in front of MaxPool nodes only");
        var x = Map(n, 0, "input");
        var s = ImageMap(n, x);
        if (pads.Length != 8)
            throw n.Fail($"has pads [{Dims(pads)}]; a [N, C, H, W] map takes 8 pads");
        if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
            throw n.Fail($"has pads [{Dims(pads)}], which pad the batch or channel axis; only height and width may be padded");
        if (pads.Any(p => p < 0 || p > OnnxNodeReader.MaxWindow))
            throw n.Fail($"has pads [{Dims(pads)}]; pads from 0 to {OnnxNodeReader.MaxWindow} are supported (a negative pad crops)");
        var layer = new PadLayer(_names.Unique(n.LayerName), x.Layer, (int)pads[2], (int)pads[3], (int)pads[6], (int)pads[7], value);
        Bind(n.Output(IsRead), Emit(layer));
    }

    private bool ReadOnlyByMaxPools(string value)
        => _header.Graph.Node.Where(m => m.Input.Contains(value)).All(m => m.OpType == "MaxPool") && !_header.Graph.Output.Any(o => o.Name == value);

    /// <summary>Opset 18's Pad may name the axes its pads are for; the others get none.</summary>
    private static long[] AllAxes(OnnxNodeReader n, long[] pads, long[] axes)
    {
        if (pads.Length != 2 * axes.Length)
            throw n.Fail($"has {pads.Length} pads for {axes.Length} axes; two per axis are expected");
        var all = new long[8];
        for (int i = 0; i < axes.Length; i++)
        {
            long axis = axes[i] < 0 ? axes[i] + 4 : axes[i];
            if (axis is < 0 or > 3)
                throw n.Fail($"pads axis {axes[i]} of a 4-D input");
            all[axis] = pads[i];
            all[axis + 4] = pads[i + axes.Length];
        }
        return all;
    }

    /// <summary>Cast to FLOAT: of a constant, it converts the weights (FLOAT16 initializers); of a computed value, which
    /// is float already, it does nothing.</summary>
    private void Cast(OnnxNodeReader n)
    {
        n.AllowOnly("to", "saturate");
        if (n.Int("to", 0) != (long)TensorProto.Types.DataType.Float)
            throw n.Fail($"casts to element type #{n.Int("to", 0)}; only a Cast to FLOAT is supported, since the importer computes in float32");
        var input = n.RequiredInput(0, "input");
        if (!_constants.ContainsKey(input))
        {
            PassThrough(n, input);
            return;
        }
        var t = Floats(n, 0, "input");
        var proto = new TensorProto { Name = n.Output(IsRead), DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(t.Shape);
        proto.FloatData.AddRange(t.Values);
        _constants[proto.Name] = proto;
    }

    /// <summary>Add, Sub, Mul or Div. Two computed values: a residual sum, or x * Sigmoid(x) (SiLU) and x * HardSigmoid(x)
    /// (HardSwish). A computed value and a constant: the bias of the conv or linear layer that computes the value, or a
    /// per-channel scale and shift of a map (the graph input's normalisation, or a BN that EDP exported unfolded).</summary>
    private void Arithmetic(OnnxNodeReader n)
    {
        n.AllowOnly();
        if (n.Node.Input.Count != 2)
            throw n.Fail($"has {n.Node.Input.Count} inputs; 2 are expected");
        bool leftConstant = _constants.ContainsKey(n.RequiredInput(0, "left input"));
        bool rightConstant = _constants.ContainsKey(n.RequiredInput(1, "right input"));
        if (leftConstant && rightConstant)
            throw n.Fail($"{Verb(n)} two constants; constant folding is not supported");
        if (!leftConstant && !rightConstant)
        {
            if (n.OpType == "Add")
                Residual(n);
            else if (n.OpType == "Mul")
                SelfGated(n);
            else
                throw n.Fail($"{Verb(n)} two computed values; only Add (a residual sum) and Mul (x times its own Sigmoid or HardSigmoid) of two computed values are supported");
            return;
        }
        int valueAt = leftConstant ? 1 : 0;
        var x = Map(n, valueAt, "input");
        var c = Floats(n, 1 - valueAt, "constant");
        var producer = _layerIndex.TryGetValue(x.Layer, out int at) ? _layers[at] : null;
        bool soleReader = _layerReads[x.Layer] == 1, adds = n.OpType is "Add" || (n.OpType is "Sub" && !leftConstant);
        if (adds && producer is WeightLayer && soleReader)
            Bias(n, x, producer, soleReader, c, valueAt);
        else if (x.Shape.Length == 3)
            Normalise(n, x, producer is ChannelAffineLayer && soleReader ? (ChannelAffineLayer)producer : null, c, constantFirst: leftConstant);
        else if (adds)
            Bias(n, x, producer, soleReader, c, valueAt);
        else
            throw n.Fail($"{Verb(n)} the constant '{n.Node.Input[1 - valueAt]}' and features '{n.Node.Input[valueAt]}', {(producer is null ? "the graph input" : $"the output of a {Kind(producer)}")}; a constant is supported on features only as the bias (Add or Sub) of the Gemm or MatMul that computes them");
    }

    private static string Verb(OnnxNodeReader n) => n.OpType switch
    {
        "Add" => "adds", "Sub" => "subtracts", "Mul" => "multiplies", _ => "divides",
    };

    private void Residual(OnnxNodeReader n)
    {
        var a = Map(n, 0, "left input");
        var b = Map(n, 1, "right input");
        if (!a.Shape.SequenceEqual(b.Shape))
            throw n.Fail($"adds [N, {Dims(a.Shape)}] and [N, {Dims(b.Shape)}]; only a sum of two values of one shape (a residual join) is supported");
        Bind(n.Output(IsRead), Emit(new AddLayer(_names.Unique(n.LayerName), a.Layer, b.Layer)));
    }

    /// <summary>x * Sigmoid(x) becomes one SiLU layer and x * HardSigmoid(x) with alpha 1/6 and beta 1/2 one HardSwish
    /// (how exporters before opset 14 write them), in place of the gate.</summary>
    private void SelfGated(OnnxNodeReader n)
    {
        var a = Map(n, 0, "left input");
        var b = Map(n, 1, "right input");
        if (TryGate(n, a, b))
            return;
        foreach (var (x, gate) in new[] { (a, b), (b, a) })
        {
            if (!_layerIndex.TryGetValue(gate.Layer, out int at) || _layers[at] is not ActivationLayer act || act.Input != x.Layer || _layerReads[gate.Layer] != 1)
                continue;
            Activation? fused = act.Kind switch
            {
                Activation.Sigmoid => Activation.SiLU,
                Activation.HardSigmoid when act.Alpha == 1f / 6 && act.Beta == 0.5f => Activation.HardSwish,
                _ => null,
            };
            if (fused is not Activation kind)
                continue;
            _layers[at] = act with { Kind = kind, Alpha = 0, Beta = 0 };
            Bind(n.Output(IsRead), gate);
            return;
        }
        throw n.Fail($"multiplies '{n.Node.Input[0]}' by '{n.Node.Input[1]}'; of two computed values only x * Sigmoid(x) (SiLU), x * HardSigmoid(x) with alpha 1/6 and beta 1/2 (HardSwish), the gate read by nothing else, and a map times a per-channel gate [C, 1, 1] (squeeze-excitation) are supported");
    }

    /// <summary>Folds a constant into the bias of the conv or linear layer that computes the value.</summary>
    private void Bias(OnnxNodeReader n, MapValue x, LayerNode? producer, bool soleReader, DenseTensor c, int valueAt)
    {
        int at = producer is null ? -1 : _layerIndex[producer.Name];
        if (producer is not WeightLayer weighted || !soleReader)
            throw n.Fail($"{Verb(n)} a constant of shape [{Dims(c.Shape)}] and '{n.Node.Input[valueAt]}', {(producer is null ? "the graph input" : $"the output of a {Kind(producer)}")}{(producer is WeightLayer ? " that other nodes also read" : "")}; a constant is supported only as the bias of the Conv, Gemm or MatMul that computes the other input");
        if (n.OpType == "Sub")
            c = c with { Values = c.Values.Select(v => -v).ToArray() };
        _layers[at] = weighted with { HasBias = true, Bias = new DenseTensor([weighted.Outputs], Biased(n, weighted.Bias, weighted.Outputs, c, channelAxis: weighted is ConvLayer)) };
        Bind(n.Output(IsRead), x);
    }

    /// <summary>Sub, Div, Mul or Add of a per-channel (or single) constant to a map (the graph input, most often), or to
    /// its scale and shift so far, gathered into one <see cref="ChannelAffineLayer"/>.</summary>
    private void Normalise(OnnxNodeReader n, MapValue x, ChannelAffineLayer? sofar, DenseTensor c, bool constantFirst)
    {
        int channels = (int)x.Shape[0];
        var s = c.Shape;
        bool perChannel = s.Length >= 3 && s[^3] == channels && s[^2] == 1 && s[^1] == 1 && s[..^3].All(d => d == 1);
        if (!perChannel && c.Values.Length != 1)
            throw n.Fail($"{Verb(n)} a map and a constant of shape [{Dims(s)}]; a constant on a map needs one value per channel ([{channels}, 1, 1]) or a single value");
        float At(int i) => c.Values.Length == 1 ? c.Values[0] : c.Values[i];
        var scale = sofar?.Scale.ToArray() ?? Enumerable.Repeat(1f, channels).ToArray();
        var shift = sofar?.Shift.ToArray() ?? new float[channels];
        for (int i = 0; i < channels; i++)
        {
            float v = At(i);
            switch (n.OpType)
            {
                case "Add":
                    shift[i] += v;
                    break;
                case "Sub" when constantFirst:
                    (scale[i], shift[i]) = (-scale[i], v - shift[i]);
                    break;
                case "Sub":
                    shift[i] -= v;
                    break;
                case "Mul":
                    (scale[i], shift[i]) = (scale[i] * v, shift[i] * v);
                    break;
                case "Div" when constantFirst:
                    throw n.Fail("divides a constant by a map; only a map divided by a constant is supported");
                default:
                    if (v == 0)
                        throw n.Fail("divides a map by zero");
                    (scale[i], shift[i]) = (scale[i] / v, shift[i] / v);
                    break;
            }
        }
        if (sofar is not null)
        {
            _layers[_layerIndex[sofar.Name]] = sofar with { Scale = scale, Shift = shift };
            Bind(n.Output(IsRead), x);
        }
        else
            Bind(n.Output(IsRead), Emit(new ChannelAffineLayer(_names.Unique(n.LayerName), x.Layer, scale, shift)));
    }
}
