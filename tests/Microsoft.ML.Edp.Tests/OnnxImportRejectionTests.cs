using Google.Protobuf;
using Microsoft.ML.Edp.Import;
using Onnx;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.Edp.Tests.OnnxModelBuilder;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Every unsupported construct is refused at import, by an <see cref="EdpOnnxImportException"/> that names
/// the node, its operator and the reason.</summary>
public class OnnxImportRejectionTests(ITestOutputHelper output)
{
    private sealed record Case(string OpType, string Reason, Func<OnnxModelBuilder, string> Build, long Opset = 13);

    /// <summary>Each case builds a small model around one bad node named "bad" and returns the graph output.</summary>
    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["group not dividing the channels"] = new("Conv", "group 3 for 8 input and 8 output channels", b => b.Node("Conv", "bad", [Conv8(b), W(b, 8, 3, 3, 3)], Int("group", 3))),
        ["transpose of a map"] = new("Transpose", "only the channel shuffle's swap", b => b.Node("Transpose", "bad", [Conv8(b)], Ints("perm", 0, 1, 3, 2))),
        ["concat along height"] = new("Concat", "along axis 2", b => b.Node("Concat", "bad", [Conv8(b), b.Conv(Input, 1, 8, 3, pad: 1)], Int("axis", 2))),
        ["concat of two sizes"] = new("Concat", "maps of different sizes", b => b.Node("Concat", "bad", [Conv8(b), b.Conv(Input, 1, 8, 3)], Int("axis", 1))),
        ["mean over channels"] = new("ReduceMean", "axes [1]", b => b.Node("ReduceMean", "bad", [Conv8(b)], Ints("axes", 1))),
        ["split along width"] = new("Split", "along axis 3", b => b.Node("Split", "bad", [Conv8(b)], Int("axis", 3))),
        ["strided slice"] = new("Slice", "steps [2]", b => b.Node("Slice", "bad", [Conv8(b), b.IntInitializer("s", 0), b.IntInitializer("e", 8), b.IntInitializer("a", 1), b.IntInitializer("st", 2)])),
        ["gate of another width"] = new("Mul", "a per-channel gate [C, 1, 1]", b =>
        {
            var x = Conv8(b);
            return b.Node("Mul", "bad", [x, b.Conv(b.Node("GlobalAveragePool", "gap", [x]), 8, 4, 1)]);
        }),
        ["reshape to 3-D"] = new("Reshape", "the steps of a channel shuffle", b => b.Node("Reshape", "bad", [Conv8(b), b.IntInitializer("shape", 0, 8, 784)])),
        ["uneven pads on an average"] = new("AveragePool", "count_include_pad 0) is supported only with equal padding", b => b.Node("AveragePool", "bad", [Conv8(b)], Ints("kernel_shape", 3, 3), Ints("pads", 0, 0, 1, 1))),
        ["dilation"] = new("Conv", "dilation 2", b => b.Node("Conv", "bad", [Input, W(b, 8, 1, 3, 3)], Ints("dilations", 2, 2))),
        ["unknown auto_pad"] = new("Conv", "auto_pad 'SAME'", b => b.Node("Conv", "bad", [Input, W(b, 8, 1, 3, 3)], String("auto_pad", "SAME"))),
        ["auto_pad and pads"] = new("Conv", "auto_pad SAME_LOWER with explicit pads", b => b.Node("Conv", "bad", [Input, W(b, 8, 1, 3, 3)], String("auto_pad", "SAME_LOWER"), Ints("pads", 1, 1, 1, 1))),
        ["non-square kernel"] = new("Conv", "3x1 kernel", b => b.Node("Conv", "bad", [Input, W(b, 8, 1, 3, 1)])),
        ["conv weight computed"] = new("Conv", "is computed", b => b.Node("Conv", "bad", [Input, b.Relu(Input)])),
        ["ceil mode window in the padding"] = new("MaxPool", "where a last window would start in the padding", b => b.Node("MaxPool", "bad", [Conv8(b)], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Ints("pads", 0, 0, 1, 1), Int("ceil_mode", 1))),
        ["average pad over half"] = new("AveragePool", "at most half the window", b => b.Pool("AveragePool", Conv8(b), 2, 2, pad: 2, name: "bad")),
        ["count include pad with ceil mode"] = new("AveragePool", "count_include_pad 1 and ceil_mode 1", b => b.Pool("AveragePool", Conv8(b), 3, 2, pad: 1, name: "bad", extra: [Int("count_include_pad", 1), Int("ceil_mode", 1)])),
        ["BN of pooled features"] = new("BatchNormalization", "must directly follow the Gemm or MatMul", b =>
            b.BatchNorm(b.Node("Flatten", "flat", [b.Node("GlobalAveragePool", "gap", [Conv8(b)])], Int("axis", 1)), 8, "bad")),
        ["clip min above max"] = new("Clip", "min 6 and max 1", b => b.Clip(Conv8(b), 6, 1, "bad")),
        ["reflect pad"] = new("Pad", "mode 'reflect'", b => b.Node("Pad", "bad", [Conv8(b), b.IntInitializer("pads", 0, 0, 1, 1, 0, 0, 1, 1)], String("mode", "reflect"))),
        ["pad on channels"] = new("Pad", "pad the batch or channel axis", b => b.Node("Pad", "bad", [Conv8(b), b.IntInitializer("pads", 0, 1, 0, 0, 0, 0, 0, 0)])),
        ["negative pad"] = new("Pad", "a negative pad crops", b => b.Node("Pad", "bad", [Conv8(b), b.IntInitializer("pads", 0, 0, -1, 0, 0, 0, 0, 0)])),
        ["product of two maps"] = new("Mul", "only x * Sigmoid(x) (SiLU)", b => b.Node("Mul", "bad", [Conv8(b), b.Conv(Input, 1, 8, 3, pad: 1)])),
        ["gate read twice"] = new("Mul", "the gate read by nothing else", b =>
        {
            var x = Conv8(b);
            var gate = b.Node("Sigmoid", "gate", [x]);
            return b.Node("Add", "sum", [b.Node("Mul", "bad", [x, gate]), gate]);
        }),
        ["constant over the image"] = new("Div", "only a map divided by a constant", b => b.Node("Div", "bad", [b.Initializer("c", [], [2f]), Input])),
        ["mean image"] = new("Sub", "one value per channel ([1, 1, 1])", b => b.Node("Sub", "bad", [Input, b.Initializer("mean", [1, 1, 28, 28], new float[784])])),
        ["scaled features"] = new("Mul", "on features only as the bias", b => b.Node("Mul", "bad", [Features(b), b.Initializer("c", [], [2f])])),
        ["argmax over the batch"] = new("ArgMax", "axis 0", b => b.Node("ArgMax", "bad", [Features(b)])),
        ["unsupported op"] = new("Tanh", "does not support", b => b.Node("Tanh", "bad", [Conv8(b)])),
        ["softmax inside"] = new("Softmax", "supported only at the end of the graph", b => b.Gemm(b.Node("Softmax", "bad", [Features(b)]), 8, 10, transB: true)),
        ["reshape to another map"] = new("Reshape", "only a reshape to [batch, 6272]", b => b.Node("Reshape", "bad", [Conv8(b), b.IntInitializer("shape", 0, 4, 56, 28)])),
        ["reshape mixing the batch"] = new("Reshape", "[-1, 784]", b => b.Node("Reshape", "bad", [Conv8(b), b.IntInitializer("shape", -1, 784)])),
        ["flatten axis 2"] = new("Flatten", "axis 2", b => b.Node("Flatten", "bad", [Conv8(b)], Int("axis", 2))),
        ["gemm transA"] = new("Gemm", "transA 1", b => b.Node("Gemm", "bad", [Features(b), W(b, 8, 10)], Int("transA", 1))),
        ["gemm on a map"] = new("Gemm", "Flatten or Reshape it first", b => b.Node("Gemm", "bad", [Conv8(b), W(b, 8, 10)])),
        ["constant map added to a ReLU"] = new("Add", "one value per channel ([8, 1, 1])", b => b.Node("Add", "bad", [b.Relu(Conv8(b)), b.Initializer("c", [8, 28, 28], new float[8 * 28 * 28])])),
        ["constant added to pooled features"] = new("Add", "only as the bias of the Conv, Gemm or MatMul", b =>
            b.Node("Add", "bad", [b.Node("Flatten", "flat", [b.Node("GlobalAveragePool", "gap", [Conv8(b)])], Int("axis", 1)), b.Initializer("c", [8], new float[8])])),
        ["sum of two shapes"] = new("Add", "only a sum of two values of one shape", b => b.Node("Add", "bad", [Conv8(b), b.Conv(Input, 1, 8, 3)])),
        ["dropout in training"] = new("Dropout", "training mode", b => b.Node("Dropout", "bad", [Conv8(b), "", Bool(b, "train", true)])),
        ["unknown attribute"] = new("Relu", "attribute 'alpha'", b => b.Node("Relu", "bad", [Conv8(b)], Float("alpha", 0.1f))),
        ["custom domain"] = new("FusedConv", "operator domain 'com.microsoft'", b =>
        {
            var x = b.Node("FusedConv", "bad", [Input, W(b, 8, 1, 3, 3)]);
            b.Graph.Node[^1].Domain = "com.microsoft";
            return x;
        }),
        ["truncated weight"] = new("Conv", "holds 40 bytes of raw_data", b =>
        {
            var w = b.Initializer("w", [8, 1, 3, 3], new float[10]);
            return b.Node("Conv", "bad", [Input, w]);
        }),
        ["gather along the batch"] = new("Gather", "along axis 0; only gathering channels", b => b.Node("Gather", "bad", [Conv8(b), b.IntInitializer("i", 0)])),
        ["gather of a channel out of range"] = new("Gather", "gathers channels [0, 8] of a map of 8", b => b.Node("Gather", "bad", [Conv8(b), b.IntInitializer("i", 0, 8)], Int("axis", 1))),
        ["reshape to a computed shape"] = new("Reshape", "neither a constant nor computed from Shape", b => b.Node("Reshape", "bad", [Conv8(b), b.Relu(Input)])),
        ["negative infinity pad before a conv"] = new("Pad", "negative infinity in front of MaxPool nodes only", b =>
            b.Conv(b.Node("Pad", "bad", [Conv8(b), b.IntInitializer("pads", 0, 0, 1, 1, 0, 0, 1, 1), b.Initializer("v", [], [float.NegativeInfinity])]), 8, 8, 3)),
        ["NaN weight"] = new("Conv", "holding NaN or infinite values", b => b.Node("Conv", "bad", [Input, b.Initializer("w", [1, 1, 1, 1], [float.NaN])])),
        ["out of order"] = new("Relu", "nodes must be in topological order", b =>
        {
            var x = b.Relu(Input, "bad");
            b.Graph.Node[^1].Input[0] = "later";
            return x;
        }),
        ["old edge pad"] = new("Pad", "mode 'edge'", b => b.Node("Pad", "bad", [b.Conv(Input, 1, 8, 3)], String("mode", "edge"), Ints("pads", 0, 0, 1, 1, 0, 0, 1, 1)), Opset: 9),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void UnsupportedNodeIsRejectedNamingItsNodeOpTypeAndReason(string name)
    {
        var c = Cases[name];
        var b = new OnnxModelBuilder(c.Opset, irVersion: 7, seed: 5);
        var bytes = b.Build(c.Build(b));

        var e = Assert.Throws<EdpOnnxImportException>(() => OnnxGraphImporter.Import(bytes, "'test.onnx'"));
        output.WriteLine(e.Message);

        Assert.Equal("bad", e.NodeName);
        Assert.Equal(c.OpType, e.OpType);
        Assert.Contains("'test.onnx'", e.Message);
        Assert.Contains($"node 'bad' ({c.OpType})", e.Message);
        Assert.Contains(c.Reason, e.Message);
    }

    public static TheoryData<string, string> ModelCases => new()
    {
        { "garbage", "is not a valid ONNX protobuf file" },
        { "opset 6", "uses opset 6; the importer reads opsets 7 to 22" },
        { "IR 2", "has IR version 2" },
        { "two inputs", "has 2 inputs that are not initializers ('image', 'mask')" },
        { "two outputs", "that compute different values" },
        { "symbolic height", "symbolic height" },
        { "int input", "is not a FLOAT tensor" },
        { "output is the input", "outputs its input unchanged" },
        { "external data of a model given as bytes", "can be read only when the model is given by its path" },
    };

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void UnsupportedModelIsRejectedWithTheReason(string name, string reason)
    {
        var b = new OnnxModelBuilder(name == "opset 6" ? 6 : 13, name == "IR 2" ? 2 : 8, seed: 6);
        var x = b.Relu(b.Conv(Input, 1, 8, 3));
        var input = b.Graph.Input[0];
        switch (name)
        {
            case "two inputs":
                b.Graph.Input.Add(new ValueInfoProto { Name = "mask", Type = input.Type });
                break;
            case "two outputs":
                b.Graph.Output.Add(new ValueInfoProto { Name = b.Graph.Node[0].Output[0] });
                break;
            case "symbolic height":
                input.Type.TensorType.Shape.Dim[2] = new TensorShapeProto.Types.Dimension { DimParam = "H" };
                break;
            case "int input":
                input.Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Int64;
                break;
            case "external data of a model given as bytes":
                b.Graph.Initializer[0].DataLocation = TensorProto.Types.DataLocation.External;
                break;
            case "output is the input":
                x = b.Node("Identity", "id", [Input]);
                break;
        }
        var bytes = name == "garbage" ? Enumerable.Range(0, 64).Select(i => (byte)(255 - i)).ToArray() : b.Build(x);

        var e = Assert.Throws<EdpOnnxImportException>(() => OnnxGraphImporter.Import(bytes, "'test.onnx'"));
        output.WriteLine(e.Message);

        Assert.StartsWith("ONNX model 'test.onnx': ", e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Null(e.NodeName);
    }

    private static string Conv8(OnnxModelBuilder b) => b.Conv(Input, 1, 8, 3, pad: 1, name: "conv");

    /// <summary>8 features [N, 8] from a conv, a global pool and a flatten.</summary>
    private static string Features(OnnxModelBuilder b) => b.Node("Flatten", "flatten", [b.Node("GlobalAveragePool", "gap", [Conv8(b)])]);

    private static string W(OnnxModelBuilder b, params long[] dims) => b.Weights($"w{b.Graph.Initializer.Count}", dims, 0.1);

    private static string Bool(OnnxModelBuilder b, string name, bool value)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Bool, RawData = ByteString.CopyFrom(value ? (byte)1 : (byte)0) };
        b.Graph.Initializer.Add(t);
        return name;
    }
}
