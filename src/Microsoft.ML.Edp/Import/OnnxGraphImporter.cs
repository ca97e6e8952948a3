using Microsoft.ML.Edp.Network;
using Onnx;

namespace Microsoft.ML.Edp.Import;

/// <summary>An imported ONNX CNN before its head is fitted to the user's classes: the layers with their given weights,
/// and the value the model outputs (class scores [F] or a feature map [C, H, W]).</summary>
internal sealed record ImportedNetwork(int InChannels, int Height, int Width, IReadOnlyList<LayerNode> Layers,
    string Output, long[] OutputShape, string Model);

/// <summary>Translates an ONNX CNN into network layers with their weights, node by node. Every node either becomes
/// layers that compute exactly what it computes, or is rejected with an <see cref="EdpOnnxImportException"/> naming
/// it, its operator and the reason.</summary>
internal sealed partial class OnnxGraphImporter
{
    /// <summary>A value the nodes pass around: a layer output of known shape (without the batch), or a global average
    /// pool whose layer is chosen by its reader (a Flatten or Reshape makes it a <see cref="GlobalPoolLayer"/>).</summary>
    private abstract record Value;
    private sealed record MapValue(string Layer, long[] Shape) : Value;
    private sealed record PooledValue(string Name, MapValue Source) : Value
    {
        public MapValue? AsFeatures, AsMap;
    }

    private readonly OnnxModelHeader _header;
    private readonly string _model;
    private readonly Dictionary<string, TensorProto> _constants;
    private readonly Dictionary<string, DenseTensor> _decoded = [];
    private readonly Dictionary<string, Value> _values = [];
    /// <summary>How many times each ONNX value is read by a node or as the graph output.</summary>
    private readonly Dictionary<string, int> _reads = [];
    /// <summary>The ONNX values some node other than a Softmax, LogSoftmax or ArgMax reads.</summary>
    private readonly HashSet<string> _readByLayers = [];
    private static readonly string[] ClassScoreOps = ["Softmax", "LogSoftmax", "ArgMax"];
    /// <summary>How many reads each layer output still has across every ONNX name that stands for it; a layer may
    /// take a bias or a BN only when the node doing so is its sole reader.</summary>
    private readonly Dictionary<string, int> _layerReads = [];
    private readonly List<LayerNode> _layers = [];
    private readonly Dictionary<string, int> _layerIndex = [];
    /// <summary>The shape of the graph input and of every layer's output, without the batch.</summary>
    private readonly Dictionary<string, long[]> _shapes = [];
    private readonly LayerNames _names = new();

    private OnnxGraphImporter(OnnxModelHeader header, string model)
    {
        _header = header;
        _model = model;
        _constants = new Dictionary<string, TensorProto>(header.Initializers);
        foreach (var n in header.Graph.Node)
            foreach (var i in n.Input.Where(i => i.Length > 0))
            {
                _reads[i] = _reads.GetValueOrDefault(i) + 1;
                if (!ClassScoreOps.Contains(n.OpType))
                    _readByLayers.Add(i);
            }
        foreach (var o in header.Graph.Output)
            _reads[o.Name] = _reads.GetValueOrDefault(o.Name) + 1;
    }

    /// <summary>Imports an ONNX CNN. <paramref name="model"/> names it in errors (a quoted path, or a description);
    /// <paramref name="image"/> is the image size the caller's data has, checked against the model's input;
    /// <paramref name="directory"/> is the model's folder, where any external data files are.</summary>
    public static ImportedNetwork Import(byte[] bytes, string model, (int Channels, int Height, int Width)? image = null, string? directory = null)
    {
        var header = OnnxModelReader.Read(bytes, model, image, directory);
        return new OnnxGraphImporter(header, header.Resized is { } note ? $"{model} ({note})" : model).Walk();
    }

    private ImportedNetwork Walk()
    {
        var g = _header.Graph;
        var input = new MapValue(NetworkGraph.InputName, [_header.Channels, _header.Height, _header.Width]);
        _values[_header.InputName] = input;
        _shapes[input.Layer] = input.Shape;
        _layerReads[input.Layer] = Reads(_header.InputName);
        for (int i = 0; i < g.Node.Count; i++)
            Translate(new OnnxNodeReader(g.Node[i], i, _model));

        // Several outputs are fine when they are one value: the logits, with the probabilities and the predicted
        // class computed from them (as EDP's own exports have it).
        var outputs = g.Output.Select(o => o.Name).Distinct().Select(name => _values.GetValueOrDefault(name) switch
        {
            MapValue m => m,
            PooledValue p => AsFeatures(p),
            ShapeValue => throw ModelFail($"outputs '{name}', a shape computed by Shape"),
            GroupedValue or ShuffledValue => throw ModelFail($"outputs '{name}', a 5-D value inside a channel shuffle"),
            null when _constants.ContainsKey(name) => throw ModelFail($"outputs '{name}', a constant"),
            _ => throw ModelFail($"outputs '{name}', which no node produces"),
        }).DistinctBy(m => m.Layer).ToArray();
        if (outputs.Length > 1)
            throw ModelFail($"has {g.Output.Count} outputs ({string.Join(", ", g.Output.Select(o => $"'{o.Name}'"))}) that compute different values; the importer needs one network output: the class scores (with any Softmax or ArgMax of them) or the features");
        var output = outputs[0];
        if (output.Layer == NetworkGraph.InputName)
            throw ModelFail("outputs its input unchanged; there is no network to compress");
        return new ImportedNetwork(_header.Channels, _header.Height, _header.Width, Live(output.Layer), output.Layer, output.Shape, _model);
    }

    private void Translate(OnnxNodeReader n)
    {
        if (n.Node.Domain is not ("" or "ai.onnx"))
            throw n.Fail($"is from operator domain '{n.Node.Domain}'; only standard ONNX operators are supported");
        foreach (var o in n.Node.Output.Where(o => o.Length > 0))
            if (_values.ContainsKey(o) || _constants.ContainsKey(o))
                throw n.Fail($"writes '{o}', which an earlier node, initializer or the graph input already defines");
        switch (n.OpType)
        {
            case "Conv": Conv(n); break;
            case "BatchNormalization": BatchNorm(n); break;
            case "Relu": n.AllowOnly(); Unary(n, (name, x) => new ReluLayer(name, x)); break;
            case "Clip": Clip(n); break;
            case "MaxPool": Pool(n, isMax: true); break;
            case "AveragePool": Pool(n, isMax: false); break;
            case "GlobalAveragePool": GlobalAveragePool(n); break;
            case "Flatten": Flatten(n); break;
            case "Reshape": Reshape(n); break;
            case "Gemm": Gemm(n); break;
            case "MatMul": MatMul(n); break;
            case "Add" or "Sub" or "Mul" or "Div": Arithmetic(n); break;
            case "Sigmoid": n.AllowOnly(); Activate(n, Activation.Sigmoid); break;
            case "HardSigmoid": n.AllowOnly("alpha", "beta"); Activate(n, Activation.HardSigmoid, n.Float("alpha", 0.2f), n.Float("beta", 0.5f)); break;
            case "HardSwish": n.AllowOnly(); Activate(n, Activation.HardSwish); break;
            case "LeakyRelu": n.AllowOnly("alpha"); Activate(n, Activation.LeakyRelu, n.Float("alpha", 0.01f)); break;
            case "Pad": Pad(n); break;
            case "Cast": Cast(n); break;
            case "Transpose": Transpose(n); break;
            case "ReduceMean": ReduceMean(n); break;
            case "Split": Split(n); break;
            case "Slice": Slice(n); break;
            case "Softmax" or "LogSoftmax" or "ArgMax": ClassScoreOutput(n); break;
            case "Dropout": Dropout(n); break;
            case "Identity": n.AllowOnly(); PassThrough(n, n.RequiredInput(0, "input")); break;
            case "Constant": Constant(n); break;
            case "Shape": ShapeOf(n); break;
            case "Gather": Gather(n); break;
            case "Unsqueeze": Unsqueeze(n); break;
            case "Concat": Concat(n); break;
            default:
                throw n.Fail($"is an operator the importer does not support; it reads {string.Join(", ", SupportedOps)}");
        }
    }

    /// <summary>The operators <see cref="Translate"/> handles, for error messages and docs.</summary>
    public static readonly string[] SupportedOps =
    [
        "Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Pad", "MaxPool",
        "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Softmax",
        "LogSoftmax", "ArgMax", "Dropout", "Identity", "Constant", "Cast to FLOAT",
        "Concat of maps on channels", "ReduceMean over height and width", "Split, Slice and Gather on channels", "Transpose of a channel shuffle",
        "Shape, Gather, Unsqueeze and Concat computing a Reshape's target",
    ];

    // ---- values ----

    private int Reads(string onnxName) => _reads.GetValueOrDefault(onnxName);

    private bool IsRead(string onnxName) => Reads(onnxName) > 0;

    /// <summary>An image or feature value the node reads as input <paramref name="i"/>.</summary>
    private Value Read(OnnxNodeReader n, int i, string what)
        => ReadAny(n, i, what) is ShapeValue ? throw n.Fail($"reads '{n.Node.Input[i]}', a shape computed by Shape, as its {what}; it needs an image or feature tensor") : _values[n.Node.Input[i]];

    /// <summary>Any computed value, shapes included.</summary>
    private Value ReadAny(OnnxNodeReader n, int i, string what)
    {
        var name = n.RequiredInput(i, what);
        if (_values.TryGetValue(name, out var v))
            return v;
        if (_constants.ContainsKey(name))
            throw n.Fail($"reads the constant '{name}' as its {what}; the importer needs a computed value there");
        throw n.Fail($"reads '{name}' as its {what}, which no earlier node, initializer or the graph input defines (nodes must be in topological order)");
    }

    /// <summary>A map or feature value; a pending global pool becomes one that keeps the [C, 1, 1] map.</summary>
    private MapValue Map(OnnxNodeReader n, int i, string what) => Read(n, i, what) switch
    {
        MapValue m => m,
        PooledValue p => AsMap(n, p),
        _ => throw InsideShuffle(n),
    };

    /// <summary>The value as [F] features: a map is flattened, a global pool becomes a <see cref="GlobalPoolLayer"/>.</summary>
    private MapValue Features(OnnxNodeReader n, Value v) => v switch
    {
        PooledValue p => AsFeatures(p),
        MapValue { Shape.Length: 1 } m => m,
        MapValue m => Emit(new FlattenLayer(_names.Unique(n.LayerName), m.Layer)),
        _ => throw InsideShuffle(n),
    };

    private MapValue AsFeatures(PooledValue p)
        => p.AsFeatures ??= Emit(new GlobalPoolLayer(_names.Unique(p.Name), p.Source.Layer));

    private MapValue AsMap(OnnxNodeReader n, PooledValue p)
    {
        if (p.AsMap is not null)
            return p.AsMap;
        return p.AsMap = Emit(new GlobalPoolLayer(_names.Unique(p.Name), p.Source.Layer, KeepMap: true));
    }

    /// <summary>Adds a layer, whose output shape it states itself; its value has no ONNX name yet (see
    /// <see cref="Bind"/>). The node's checks come first, so the layer fits its inputs.</summary>
    private MapValue Emit(LayerNode layer)
    {
        var shape = _shapes[layer.Name] = layer.OutputShape([.. layer.Inputs.Select(i => _shapes[i])]);
        _layerIndex[layer.Name] = _layers.Count;
        _layers.Add(layer);
        // Until Bind names it, the layer's only reader is the node that asked for it.
        _layerReads[layer.Name] = 1;
        return new MapValue(layer.Name, shape);
    }

    /// <summary>Gives a node's result its ONNX output name: a new layer takes that name's readers; a value the node
    /// passed through unchanged (an Identity, a Flatten of features) gains them, less the node's own read.</summary>
    private void Bind(string onnxName, Value value, bool passedThrough = false)
    {
        _values[onnxName] = value;
        if (value is MapValue m)
            _layerReads[m.Layer] = passedThrough ? _layerReads[m.Layer] + Reads(onnxName) - 1 : Reads(onnxName);
    }

    /// <summary>Makes the node's output another name for its input (Identity, Dropout, a dropped Softmax).</summary>
    private void PassThrough(OnnxNodeReader n, string inputName)
    {
        var output = n.Output(IsRead);
        if (_constants.TryGetValue(inputName, out var constant))
        {
            _constants[output] = constant;
            return;
        }
        Bind(output, ReadAny(n, 0, "input"), passedThrough: true);
    }

    private void Unary(OnnxNodeReader n, Func<string, string, LayerNode> layer)
    {
        var x = Map(n, 0, "input");
        Bind(n.Output(IsRead), Emit(layer(_names.Unique(n.LayerName), x.Layer)));
    }

    // ---- constants ----

    private TensorProto ConstantProto(OnnxNodeReader n, int i, string what)
    {
        var name = n.RequiredInput(i, what);
        return _constants.TryGetValue(name, out var t) ? t
            : throw n.Fail($"reads its {what} from '{name}', which is computed; the importer needs it as an initializer or a Constant");
    }

    /// <summary>A float constant; weights must be finite (a bound such as Clip's max may be infinite).</summary>
    private DenseTensor Floats(OnnxNodeReader n, int i, string what, bool finite = true)
    {
        var proto = ConstantProto(n, i, what);
        if (!_decoded.TryGetValue(n.Node.Input[i], out var t))
            _decoded[n.Node.Input[i]] = t = OnnxTensorReader.Floats(proto, reason => n.Fail($"{what}: {reason}"));
        if (finite && !t.Values.All(float.IsFinite))
            throw n.Fail($"has a {what} '{n.Node.Input[i]}' holding NaN or infinite values");
        return t;
    }

    private DenseTensor? OptionalFloats(OnnxNodeReader n, int i, string what) => n.Input(i) is null ? null : Floats(n, i, what);

    /// <summary>A float constant of one element (Clip's bounds).</summary>
    private float? Scalar(OnnxNodeReader n, int i, string what)
    {
        if (n.Input(i) is null)
            return null;
        var t = Floats(n, i, what, finite: false);
        return t.Values.Length == 1 ? t.Values[0] : throw n.Fail($"has a {what} of {t.Values.Length} values; one is expected");
    }

    private void Constant(OnnxNodeReader n)
    {
        n.AllowOnly("value", "value_float", "value_floats", "value_int", "value_ints");
        if (n.Node.Attribute.Count != 1)
            throw n.Fail($"has {n.Node.Attribute.Count} value attributes; exactly one is expected");
        var output = n.Output(IsRead);
        var proto = n.Tensor("value") ?? new TensorProto();
        if (proto.Name.Length == 0)
            proto.Name = output;
        if (n.Node.Attribute[0].Name != "value")
        {
            var floats = n.Floats("value_floats") ?? (n.Has("value_float") ? [n.Float("value_float", 0)] : null);
            var ints = n.Ints("value_ints") ?? (n.Has("value_int") ? [n.Int("value_int", 0)] : null);
            proto.DataType = (int)(floats is not null ? TensorProto.Types.DataType.Float : TensorProto.Types.DataType.Int64);
            if (floats is not null)
                proto.FloatData.AddRange(floats);
            else
                proto.Int64Data.AddRange(ints ?? []);
            if (n.Node.Attribute[0].Name.EndsWith('s'))
                proto.Dims.Add(floats?.Length ?? ints?.Length ?? 0);
        }
        _constants[output] = proto;
    }

    // ---- result ----

    /// <summary>The layers the output depends on, in order: nodes that feed nothing the model outputs are dropped.</summary>
    private List<LayerNode> Live(string output)
    {
        var live = new HashSet<string> { output };
        for (int i = _layers.Count - 1; i >= 0; i--)
            if (live.Contains(_layers[i].Name))
                live.UnionWith(_layers[i].Inputs);
        return _layers.Where(l => live.Contains(l.Name)).ToList();
    }

    private EdpOnnxImportException ModelFail(string reason) => new($"ONNX model {_model}: {reason}.");
}
