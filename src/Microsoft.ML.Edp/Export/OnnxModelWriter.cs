using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.Edp.Network;
using Onnx;
using static Onnx.TensorShapeProto.Types;

namespace Microsoft.ML.Edp.Export;

/// <summary>Writes an <see cref="InferenceGraph"/> as an ONNX model (IR 8, opset 13, symbolic batch dimension), with a
/// softmax and an argmax appended. It knows nothing of training.</summary>
internal static class OnnxModelWriter
{
    public const string BatchDimension = "batch";
    private const long IrVersion = 8;
    private const long Opset = 13;
    private const int FloatType = (int)TensorProto.Types.DataType.Float;
    private const int Int64Type = (int)TensorProto.Types.DataType.Int64;

    /// <summary>Serialises the graph; <paramref name="metadata"/> goes into the model's metadata_props.</summary>
    public static byte[] Write(InferenceGraph graph, IReadOnlyDictionary<string, string> metadata)
    {
        var g = new GraphProto { Name = "edp" };
        g.Input.Add(ValueInfo(graph.Input, FloatType, graph.Channels, graph.Height, graph.Width));
        foreach (var node in graph.Nodes)
            AddNode(g, node);
        g.Node.Add(Node("Softmax", "softmax", [graph.Logits], OnnxNames.Probabilities, Int("axis", 1)));
        g.Node.Add(Node("ArgMax", "argmax", [OnnxNames.Probabilities], OnnxNames.PredictedIndex, Int("axis", 1), Int("keepdims", 1)));
        g.Output.Add(ValueInfo(OnnxNames.Probabilities, FloatType, graph.Classes));
        g.Output.Add(ValueInfo(OnnxNames.PredictedIndex, Int64Type, 1));
        g.Output.Add(ValueInfo(graph.Logits, FloatType, graph.Classes));

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

    private static void AddNode(GraphProto g, GraphNode node)
    {
        switch (node)
        {
            case ConvNode c:
                var inputs = new List<string> { c.Input, Initializer(g, c.Name + ".weight", c.Weight) };
                if (c.Bias is not null)
                    inputs.Add(Initializer(g, c.Name + ".bias", c.Bias));
                g.Node.Add(Node("Conv", c.Name, inputs, c.Output, Ints("kernel_shape", c.Kernel, c.Kernel),
                    Ints("strides", c.Stride, c.Stride), Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding), Int("group", c.Groups)));
                break;
            case GemmNode m:
                var gemmInputs = new List<string> { m.Input, Initializer(g, m.Name + ".weight", m.Weight) };
                if (m.Bias is not null)
                    gemmInputs.Add(Initializer(g, m.Name + ".bias", m.Bias));
                g.Node.Add(Node("Gemm", m.Name, gemmInputs, m.Output, Int("transB", 1)));
                break;
            case ReluNode { Max: float max } r:
                // Opset 13's Clip takes its bounds as inputs.
                g.Node.Add(Node("Clip", r.Name, [r.Inputs[0], Scalar(g, r.Name + ".min", 0), Scalar(g, r.Name + ".max", max)], r.Output));
                break;
            case ReluNode r:
                g.Node.Add(Node("Relu", r.Name, [r.Inputs[0]], r.Output));
                break;
            case PoolNode p:
                g.Node.Add(Node(p.IsMax ? "MaxPool" : "AveragePool", p.Name, [p.Inputs[0]], p.Output, Ints("kernel_shape", p.Kernel, p.Kernel),
                    Ints("strides", p.Stride, p.Stride), Ints("pads", p.Padding, p.Padding, p.Padding, p.Padding), Int("ceil_mode", p.CeilMode ? 1 : 0)));
                break;
            case PadNode p:
                // Opset 13's Pad takes the pads ([N, C, H, W] begins, then ends) and the value as inputs.
                g.Node.Add(Node("Pad", p.Name, [p.Inputs[0], IntInitializer(g, p.Name + ".pads", 0, 0, p.Top, p.Left, 0, 0, p.Bottom, p.Right),
                    Scalar(g, p.Name + ".value", p.Value)], p.Output, String("mode", "constant")));
                break;
            case ActivationNode a:
                AddActivation(g, a);
                break;
            case ChannelAffineNode a:
                long[] perChannel = [a.Scale.Length, 1, 1];
                g.Node.Add(Node("Mul", a.Name + "_scale", [a.Inputs[0], Initializer(g, a.Name + ".scale", new DenseTensor(perChannel, a.Scale))], a.Output + "_scaled"));
                g.Node.Add(Node("Add", a.Name, [a.Output + "_scaled", Initializer(g, a.Name + ".shift", new DenseTensor(perChannel, a.Shift))], a.Output));
                break;
            case FlattenNode f:
                g.Node.Add(Node("Flatten", f.Name, [f.Inputs[0]], f.Output, Int("axis", 1)));
                break;
            case GlobalAveragePoolNode { KeepMap: true } gap:
                g.Node.Add(Node("GlobalAveragePool", gap.Name, [gap.Inputs[0]], gap.Output));
                break;
            case ConcatNode c:
                g.Node.Add(Node("Concat", c.Name, c.Inputs, c.Output, Int("axis", 1)));
                break;
            case ChannelGateNode gate:
                g.Node.Add(Node("Mul", gate.Name, gate.Inputs, gate.Output));
                break;
            case ChannelSelectNode s:
                g.Node.Add(Node("Gather", s.Name, [s.Inputs[0], IntInitializer(g, s.Name + ".channels", s.Channels)], s.Output, Int("axis", 1)));
                break;
            case GlobalAveragePoolNode gap:
                g.Node.Add(Node("GlobalAveragePool", gap.Name, [gap.Inputs[0]], gap.Output + "_4d"));
                g.Node.Add(Node("Flatten", gap.Name + "_flatten", [gap.Output + "_4d"], gap.Output, Int("axis", 1)));
                break;
            case AddNode a:
                g.Node.Add(Node("Add", a.Name, a.Inputs, a.Output));
                break;
            default:
                throw new NotSupportedException($"The ONNX writer has no mapping for graph node '{node.Name}' of type {node.GetType().Name}.");
        }
    }

    /// <summary>Opset 13 has no HardSwish or SiLU node: they are written as x times HardSigmoid(x) or Sigmoid(x).</summary>
    private static void AddActivation(GraphProto g, ActivationNode a)
    {
        string x = a.Inputs[0];
        switch (a.Kind)
        {
            case Activation.Sigmoid:
                g.Node.Add(Node("Sigmoid", a.Name, [x], a.Output));
                break;
            case Activation.HardSigmoid:
                g.Node.Add(Node("HardSigmoid", a.Name, [x], a.Output, Float("alpha", a.Alpha), Float("beta", a.Beta)));
                break;
            case Activation.HardSwish:
                g.Node.Add(Node("HardSigmoid", a.Name + "_gate", [x], a.Output + "_gate", Float("alpha", 1f / 6), Float("beta", 0.5f)));
                g.Node.Add(Node("Mul", a.Name, [x, a.Output + "_gate"], a.Output));
                break;
            case Activation.SiLU:
                g.Node.Add(Node("Sigmoid", a.Name + "_gate", [x], a.Output + "_gate"));
                g.Node.Add(Node("Mul", a.Name, [x, a.Output + "_gate"], a.Output));
                break;
            case Activation.LeakyRelu:
                g.Node.Add(Node("LeakyRelu", a.Name, [x], a.Output, Float("alpha", a.Alpha)));
                break;
            case Activation.Clip:
                // An infinite bound is an omitted input.
                g.Node.Add(Node("Clip", a.Name, [x, float.IsNegativeInfinity(a.Alpha) ? "" : Scalar(g, a.Name + ".min", a.Alpha),
                    float.IsPositiveInfinity(a.Beta) ? "" : Scalar(g, a.Name + ".max", a.Beta)], a.Output));
                break;
            default:
                throw new NotSupportedException($"The ONNX writer has no mapping for activation {a.Kind} of node '{a.Name}'.");
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
