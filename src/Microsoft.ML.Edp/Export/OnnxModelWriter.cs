using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.Edp.Network;
using Onnx;
using static Onnx.TensorShapeProto.Types;

namespace Microsoft.ML.Edp.Export;

/// <summary>Writes an exported graph (a <see cref="NetworkGraph"/> whose conv and linear layers carry their final
/// weights, with no BatchNorm left) as an ONNX model (IR 8, opset 13, symbolic batch dimension), with a softmax and an
/// argmax appended. The graph input becomes <see cref="OnnxNames.Input"/> and its output
/// <see cref="OnnxNames.Logits"/>; every other value keeps its layer's name. It knows nothing of training.</summary>
internal static class OnnxModelWriter
{
    public const string BatchDimension = "batch";
    private const long IrVersion = 8;
    private const long Opset = 13;
    private const int FloatType = (int)TensorProto.Types.DataType.Float;
    private const int Int64Type = (int)TensorProto.Types.DataType.Int64;

    /// <summary>Serialises the graph; <paramref name="metadata"/> goes into the model's metadata_props.</summary>
    public static byte[] Write(NetworkGraph graph, IReadOnlyDictionary<string, string> metadata)
    {
        var g = new GraphProto { Name = "edp" };
        g.Input.Add(ValueInfo(OnnxNames.Input, FloatType, graph.InChannels, graph.Height, graph.Width));
        string Value(string name) => name == NetworkGraph.InputName ? OnnxNames.Input : name == graph.Output ? OnnxNames.Logits : name;
        foreach (var layer in graph.Layers)
            AddNode(g, layer, [.. layer.Inputs.Select(Value)], Value(layer.Name));
        g.Node.Add(Node("Softmax", "softmax", [OnnxNames.Logits], OnnxNames.Probabilities, Int("axis", 1)));
        g.Node.Add(Node("ArgMax", "argmax", [OnnxNames.Probabilities], OnnxNames.PredictedIndex, Int("axis", 1), Int("keepdims", 1)));
        g.Output.Add(ValueInfo(OnnxNames.Probabilities, FloatType, graph.Classes));
        g.Output.Add(ValueInfo(OnnxNames.PredictedIndex, Int64Type, 1));
        g.Output.Add(ValueInfo(OnnxNames.Logits, FloatType, graph.Classes));

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Microsoft.ML.Edp",
            ProducerVersion = typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = g,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model.ToByteArray();
    }

    /// <summary>Reads one metadata_props entry back from serialised ONNX bytes.</summary>
    public static string? ReadMetadata(byte[] onnx, string key)
        => ModelProto.Parser.ParseFrom(onnx).MetadataProps.FirstOrDefault(p => p.Key == key)?.Value;

    /// <summary>The ONNX nodes of one layer, reading <paramref name="inputs"/> and writing <paramref name="output"/>.</summary>
    private static void AddNode(GraphProto g, LayerNode layer, string[] inputs, string output)
    {
        string x = inputs[0], name = layer.Name;
        switch (layer)
        {
            case ConvLayer c:
                g.Node.Add(Node("Conv", name, WeightInputs(g, c, x), output, Ints("kernel_shape", c.Kernel, c.Kernel),
                    Ints("strides", c.Stride, c.Stride), Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding), Int("group", c.Groups)));
                break;
            case LinearLayer l:
                g.Node.Add(Node("Gemm", name, WeightInputs(g, l, x), output, Int("transB", 1)));
                break;
            case ReluLayer { Max: float max }:
                // Opset 13's Clip takes its bounds as inputs.
                g.Node.Add(Node("Clip", name, [x, Scalar(g, name + ".min", 0), Scalar(g, name + ".max", max)], output));
                break;
            case ReluLayer:
                g.Node.Add(Node("Relu", name, [x], output));
                break;
            case PoolLayer p:
                g.Node.Add(Node(p.IsMax ? "MaxPool" : "AveragePool", name, [x], output, Ints("kernel_shape", p.Kernel, p.Kernel),
                    Ints("strides", p.Stride, p.Stride), Ints("pads", p.Padding, p.Padding, p.Padding, p.Padding), Int("ceil_mode", p.CeilMode ? 1 : 0)));
                break;
            case PadLayer p:
                // Opset 13's Pad takes the pads ([N, C, H, W] begins, then ends) and the value as inputs.
                g.Node.Add(Node("Pad", name, [x, IntInitializer(g, name + ".pads", 0, 0, p.Top, p.Left, 0, 0, p.Bottom, p.Right),
                    Scalar(g, name + ".value", p.Value)], output, String("mode", "constant")));
                break;
            case ActivationLayer a:
                AddActivation(g, a, x, output);
                break;
            case ChannelAffineLayer a:
                long[] perChannel = [a.Scale.Length, 1, 1];
                g.Node.Add(Node("Mul", name + "_scale", [x, Initializer(g, name + ".scale", new DenseTensor(perChannel, a.Scale))], output + "_scaled"));
                g.Node.Add(Node("Add", name, [output + "_scaled", Initializer(g, name + ".shift", new DenseTensor(perChannel, a.Shift))], output));
                break;
            case FlattenLayer:
                g.Node.Add(Node("Flatten", name, [x], output, Int("axis", 1)));
                break;
            case GlobalPoolLayer { KeepMap: true }:
                g.Node.Add(Node("GlobalAveragePool", name, [x], output));
                break;
            case GlobalPoolLayer:
                g.Node.Add(Node("GlobalAveragePool", name, [x], output + "_4d"));
                g.Node.Add(Node("Flatten", name + "_flatten", [output + "_4d"], output, Int("axis", 1)));
                break;
            case ConcatLayer:
                g.Node.Add(Node("Concat", name, inputs, output, Int("axis", 1)));
                break;
            case ChannelGateLayer:
                g.Node.Add(Node("Mul", name, inputs, output));
                break;
            case ChannelSelectLayer s:
                g.Node.Add(Node("Gather", name, [x, IntInitializer(g, name + ".channels", s.Channels)], output, Int("axis", 1)));
                break;
            case AddLayer:
                g.Node.Add(Node("Add", name, inputs, output));
                break;
            case BatchNormLayer:
                throw new NotSupportedException($"The ONNX writer takes an exported graph, with every BatchNorm folded into the layer before it; layer '{name}' is a BatchNorm.");
            default:
                throw new NotSupportedException($"The ONNX writer has no mapping for layer '{name}' of type {layer.GetType().Name}.");
        }
    }

    /// <summary>The input, then the weight and any bias the layer carries as initializers.</summary>
    private static List<string> WeightInputs(GraphProto g, WeightLayer layer, string x)
    {
        var (weight, bias) = layer.Carried();
        var inputs = new List<string> { x, Initializer(g, layer.Name + ".weight", weight) };
        if (bias is not null)
            inputs.Add(Initializer(g, layer.Name + ".bias", bias));
        return inputs;
    }

    /// <summary>Opset 13 has no HardSwish or SiLU node: they are written as x times HardSigmoid(x) or Sigmoid(x).</summary>
    private static void AddActivation(GraphProto g, ActivationLayer a, string x, string output)
    {
        switch (a.Kind)
        {
            case Activation.Sigmoid:
                g.Node.Add(Node("Sigmoid", a.Name, [x], output));
                break;
            case Activation.HardSigmoid:
                g.Node.Add(Node("HardSigmoid", a.Name, [x], output, Float("alpha", a.Alpha), Float("beta", a.Beta)));
                break;
            case Activation.HardSwish:
                g.Node.Add(Node("HardSigmoid", a.Name + "_gate", [x], output + "_gate", Float("alpha", 1f / 6), Float("beta", 0.5f)));
                g.Node.Add(Node("Mul", a.Name, [x, output + "_gate"], output));
                break;
            case Activation.SiLU:
                g.Node.Add(Node("Sigmoid", a.Name + "_gate", [x], output + "_gate"));
                g.Node.Add(Node("Mul", a.Name, [x, output + "_gate"], output));
                break;
            case Activation.LeakyRelu:
                g.Node.Add(Node("LeakyRelu", a.Name, [x], output, Float("alpha", a.Alpha)));
                break;
            case Activation.Clip:
                // An infinite bound is an omitted input.
                g.Node.Add(Node("Clip", a.Name, [x, float.IsNegativeInfinity(a.Alpha) ? "" : Scalar(g, a.Name + ".min", a.Alpha),
                    float.IsPositiveInfinity(a.Beta) ? "" : Scalar(g, a.Name + ".max", a.Beta)], output));
                break;
            default:
                throw new NotSupportedException($"The ONNX writer has no mapping for activation {a.Kind} of layer '{a.Name}'.");
        }
    }

    private static string IntInitializer(GraphProto g, string name, params long[] values)
    {
        var proto = new TensorProto { Name = name, DataType = Int64Type };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        g.Initializer.Add(proto);
        return name;
    }

    private static string Initializer(GraphProto g, string name, DenseTensor t)
    {
        var proto = new TensorProto { Name = name, DataType = FloatType, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(t.Values.AsSpan())) };
        proto.Dims.AddRange(t.Shape);
        g.Initializer.Add(proto);
        return name;
    }

    private static string Scalar(GraphProto g, string name, float value) => Initializer(g, name, new DenseTensor([], [value]));

    private static NodeProto Node(string op, string name, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A tensor value [batch, dims...] with a symbolic batch dimension.</summary>
    private static ValueInfoProto ValueInfo(string name, int elementType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new Dimension { DimParam = BatchDimension });
        foreach (var d in dims)
            shape.Dim.Add(new Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
    }
}
