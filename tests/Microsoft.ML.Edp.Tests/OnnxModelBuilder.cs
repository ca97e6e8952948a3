using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static Onnx.TensorShapeProto.Types;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Writes small ONNX CNNs with random weights and BN statistics, the way exporters of different ages do:
/// any opset and IR version, weights as raw_data or float_data, initializers listed among the inputs (IR 3), a fixed
/// or symbolic batch.</summary>
internal sealed class OnnxModelBuilder
{
    public const string Input = "image";
    private readonly Random _rng;
    private readonly long _opset, _irVersion;
    private readonly bool _floatData, _initializersAsInputs;
    private int _next;

    public OnnxModelBuilder(long opset, long irVersion, int seed, bool floatData = false, bool initializersAsInputs = false,
        long? fixedBatch = null, int channels = 1, int height = 28, int width = 28)
    {
        _opset = opset;
        _irVersion = irVersion;
        _rng = new Random(seed);
        _floatData = floatData;
        _initializersAsInputs = initializersAsInputs;
        Graph.Input.Add(ValueInfo(Input, fixedBatch, channels, height, width));
    }

    public GraphProto Graph { get; } = new() { Name = "test" };

    /// <summary>Adds a node; its output is named after the node unless given.</summary>
    public string Node(string op, string name, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(name + "_out");
        n.Attribute.AddRange(attributes);
        Graph.Node.Add(n);
        return n.Output[0];
    }

    /// <summary>A conv with He-initialised weights [out, in / groups, k, k] times <paramref name="gain"/> (below 1 for the
    /// last conv of a residual branch, whose sum would otherwise grow block by block) and, with <paramref name="bias"/>,
    /// a random bias.</summary>
    public string Conv(string x, int inChannels, int outChannels, int kernel, int stride = 1, int pad = 0, bool bias = true,
        string? name = null, int groups = 1, double gain = 1, params AttributeProto[] extra)
    {
        name ??= $"/features/{_next++}/Conv";
        int groupIn = inChannels / groups;
        var inputs = new List<string> { x, Weights(name + ".weight", [outChannels, groupIn, kernel, kernel], gain * Math.Sqrt(2.0 / (groupIn * kernel * kernel))) };
        if (bias)
            inputs.Add(Weights(name + ".bias", [outChannels], 0.1));
        AttributeProto[] grouped = groups > 1 ? [Int("group", groups)] : [];
        return Node("Conv", name, inputs, [Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad), .. extra, .. grouped]);
    }

    /// <summary>BN with random affine parameters and running statistics; attributes as the opset has them.</summary>
    /// <remarks>The first <paramref name="zeroScales"/> channels get a scale of zero, as trained networks have them; the
    /// others are times <paramref name="gain"/>.</remarks>
    public string BatchNorm(string x, int channels, string? name = null, float epsilon = 1e-5f, int zeroScales = 0, double gain = 1)
    {
        name ??= $"/features/{_next++}/BatchNormalization";
        var scales = Uniform(channels, 0.5 * gain, 1.5 * gain);
        Array.Fill(scales, 0f, 0, zeroScales);
        var inputs = new[]
        {
            Initializer(name + ".scale", [channels], scales),
            Initializer(name + ".shift", [channels], Uniform(channels, -0.3, 0.3)),
            Initializer(name + ".mean", [channels], Uniform(channels, -0.3, 0.3)),
            Initializer(name + ".var", [channels], Uniform(channels, 0.5, 2.0)),
        };
        var attributes = new List<AttributeProto> { Float("epsilon", epsilon), Float("momentum", 0.9f) };
        if (_opset < 9)
            attributes.Add(Int("spatial", 1));
        return Node("BatchNormalization", name, [x, .. inputs], [.. attributes]);
    }

    public string Relu(string x, string? name = null) => Node("Relu", name ?? $"/features/{_next++}/Relu", [x]);

    /// <summary>ReLU6 as Clip: attributes before opset 11, initializer inputs after.</summary>
    public string Clip(string x, float min, float max, string? name = null)
    {
        name ??= $"/features/{_next++}/Clip";
        return _opset < 11 ? Node("Clip", name, [x], Float("min", min), Float("max", max))
            : Node("Clip", name, [x, Initializer(name + ".min", [], [min]), Initializer(name + ".max", [], [max])]);
    }

    /// <summary>HardSwish as the operator (opset 14 on) or as x * HardSigmoid(x), as earlier exports write it;
    /// <paramref name="name"/> prefixes the nodes.</summary>
    public string HardSwish(string x, string? name = null)
    {
        name ??= $"/features/{_next++}";
        return _opset >= 14 ? Node("HardSwish", name + "/HardSwish", [x])
            : Node("Mul", name + "/Mul", [x, HardSigmoid(x, name + "/HardSigmoid")]);
    }

    /// <summary>HardSigmoid as PyTorch exports it: alpha 1/6 and ONNX's default beta 0.5.</summary>
    public string HardSigmoid(string x, string? name = null) => Node("HardSigmoid", name ?? $"/features/{_next++}/HardSigmoid", [x], Float("alpha", 1f / 6));

    /// <summary>SiLU as exporters write it: x * Sigmoid(x); <paramref name="name"/> prefixes the nodes.</summary>
    public string Silu(string x, string? name = null)
    {
        name ??= $"/features/{_next++}";
        return Node("Mul", name + "/Mul", [x, Node("Sigmoid", name + "/Sigmoid", [x])]);
    }

    /// <summary>Concat of maps along the channels.</summary>
    public string Concat(IEnumerable<string> parts, string? name = null) => Node("Concat", name ?? $"/features/{_next++}/Concat", parts, Int("axis", 1));

    /// <summary>Split of the channels into parts of the given sizes: the sizes as an input from opset 13, an attribute
    /// before; returns the parts.</summary>
    public string[] Split(string x, string name, params long[] sizes)
    {
        var split = new NodeProto { OpType = "Split", Name = name };
        split.Input.Add(x);
        if (_opset >= 13)
            split.Input.Add(IntInitializer(name + ".split", sizes));
        else
            split.Attribute.Add(Ints("split", sizes));
        split.Attribute.Add(Int("axis", 1));
        split.Output.AddRange(sizes.Select((_, i) => $"{name}_out{i}"));
        Graph.Node.Add(split);
        return [.. split.Output];
    }

    public string Pool(string op, string x, int kernel, int stride, int pad = 0, string? name = null, params AttributeProto[] extra)
        => Node(op, name ?? $"/features/{_next++}/{op}", [x], [Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad), .. extra]);

    /// <summary>Gemm with B stored as [out, in] (transB 1) or [in, out] (transB 0).</summary>
    public string Gemm(string x, int inFeatures, int outFeatures, bool transB, string? name = null)
    {
        name ??= $"/classifier/{_next++}/Gemm";
        long[] dims = transB ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
        return Node("Gemm", name, [x, Weights(name + ".weight", dims, Math.Sqrt(1.0 / inFeatures)), Weights(name + ".bias", [outFeatures], 0.1)],
            Float("alpha", 1), Float("beta", 1), Int("transB", transB ? 1 : 0));
    }

    /// <summary>MatMul by an [in, out] weight, then Add of a bias: how older exporters write a linear layer.</summary>
    public string MatMulAdd(string x, int inFeatures, int outFeatures, string? name = null)
    {
        name ??= $"/classifier/{_next++}";
        var product = Node("MatMul", name + "/MatMul", [x, Weights(name + ".weight", [inFeatures, outFeatures], Math.Sqrt(1.0 / inFeatures))]);
        return Node("Add", name + "/Add", [product, Weights(name + ".bias", [outFeatures], 0.1)]);
    }

    public string Constant(string name, TensorProto value) => Node("Constant", name, [], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });

    public string Weights(string name, long[] dims, double scale)
        => Initializer(name, dims, Normal((int)dims.Aggregate(1L, (a, b) => a * b), scale));

    public string Initializer(string name, long[] dims, float[] values)
    {
        var t = FloatTensor(name, dims, values, _floatData);
        Graph.Initializer.Add(t);
        if (_initializersAsInputs)
            Graph.Input.Add(ValueInfo(name, null, dims, batch: false));
        return name;
    }

    public string IntInitializer(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        Graph.Initializer.Add(t);
        if (_initializersAsInputs)
            Graph.Input.Add(ValueInfo(name, null, [values.Length], batch: false, elementType: TensorProto.Types.DataType.Int64));
        return name;
    }

    /// <summary>A rank-0 int64 initializer (a Gather's index).</summary>
    public string IntScalar(string name, long value)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Int64Data.Add(value);
        Graph.Initializer.Add(t);
        return name;
    }

    public static TensorProto FloatTensor(string name, long[] dims, float[] values, bool floatData = false)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        if (floatData)
            t.FloatData.AddRange(values);
        else
            t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    public static TensorProto IntTensor(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    /// <summary>The model with <paramref name="output"/> as its one graph output.</summary>
    public byte[] Build(string output, params long[] dims)
    {
        Graph.Output.Add(ValueInfo(output, null, dims));
        var model = new ModelProto { IrVersion = _irVersion, ProducerName = "Microsoft.ML.Edp.Tests", Graph = Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return model.ToByteArray();
    }

    /// <summary>A copy of a model that also outputs <paramref name="value"/>, so ONNX Runtime returns the logits under a Softmax.</summary>
    public static byte[] WithOutput(byte[] model, string value)
    {
        var m = ModelProto.Parser.ParseFrom(model);
        if (m.Graph.Output.All(o => o.Name != value))
            m.Graph.Output.Add(new ValueInfoProto { Name = value });
        return m.ToByteArray();
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private float[] Normal(int count, double scale)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
            v[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
        return v;
    }

    private float[] Uniform(int count, double low, double high)
        => Enumerable.Range(0, count).Select(_ => (float)(low + (high - low) * _rng.NextDouble())).ToArray();

    private static ValueInfoProto ValueInfo(string name, long? batch, params long[] dims) => ValueInfo(name, batch, dims, batch: true);

    private static ValueInfoProto ValueInfo(string name, long? batchSize, long[] dims, bool batch,
        TensorProto.Types.DataType elementType = TensorProto.Types.DataType.Float)
    {
        var shape = new TensorShapeProto();
        if (batch)
            shape.Dim.Add(batchSize is long b ? new Dimension { DimValue = b } : new Dimension { DimParam = "N" });
        foreach (var d in dims)
            shape.Dim.Add(new Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } } };
    }
}
