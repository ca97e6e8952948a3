using Google.Protobuf;
using Onnx;
using static Microsoft.ML.Edp.Tests.OnnxModelBuilder;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Small ONNX CNNs on 1x28x28 images, one for each operator or pattern the importer takes beyond plain
/// Conv/BN/ReLU nets, written at any opset from 11 as exporters of that opset write them. Each ends in a global
/// average pool (or a pool over the whole map), a Flatten and a Gemm to 10 logits.</summary>
internal static class OnnxPatternModels
{
    public static readonly string[] Names =
    [
        "asymmetric-pads", "same-padding", "explicit-pad", "ceil-mode", "count-include-pad", "whole-map-average",
        "input-normalisation", "sigmoid", "hard-sigmoid", "hard-swish", "silu", "leaky-relu", "clip", "float16-weights", "mixed",
        "depthwise", "concat-depthwise", "grouped-conv", "grouped-block", "dense-concat", "pre-activation", "fire-concat", "squeeze-excitation", "reduce-mean-excitation", "channel-shuffle", "slice", "split",
        "residual",
    ];

    public static OnnxTestModels.Model Build(string name, long opset, int seed = 11)
    {
        var b = new OnnxModelBuilder(opset, irVersion: opset >= 15 ? 8 : 7, seed);
        string x = name switch
        {
            "asymmetric-pads" => AsymmetricPads(b),
            "same-padding" => SamePadding(b),
            "explicit-pad" => ExplicitPad(b),
            "ceil-mode" => CeilMode(b),
            "count-include-pad" => Head(b, b.Conv(b.Pool("AveragePool", Stem(b), 3, 1, pad: 1, extra: Int("count_include_pad", 1)), 8, 16, 3)),
            "whole-map-average" => WholeMapAverage(b),
            "input-normalisation" => InputNormalisation(b),
            "sigmoid" => Activated(b, x => b.Node("Sigmoid", $"/act{b.Graph.Node.Count}/Sigmoid", [x])),
            "hard-sigmoid" => Activated(b, x => b.Node("HardSigmoid", $"/act{b.Graph.Node.Count}/HardSigmoid", [x], Float("alpha", 0.25f), Float("beta", 0.4f))),
            "hard-swish" => Activated(b, x => b.HardSwish(x, $"/act{b.Graph.Node.Count}")),
            "silu" => Activated(b, x => b.Silu(x, $"/act{b.Graph.Node.Count}")),
            "leaky-relu" => Activated(b, x => b.Node("LeakyRelu", $"/act{b.Graph.Node.Count}/LeakyRelu", [x], Float("alpha", 0.1f))),
            "clip" => Activated(b, x => b.Node("Clip", $"/act{b.Graph.Node.Count}/Clip2", [b.Clip(x, -1, 2, $"/act{b.Graph.Node.Count}/Clip"), "", b.Initializer($"/act{b.Graph.Node.Count}/Clip2.max", [], [1.5f])])),
            "float16-weights" => Float16Weights(b),
            "mixed" => Mixed(b),
            "depthwise" => Depthwise(b),
            "concat-depthwise" => ConcatDepthwise(b),
            "grouped-conv" => Head(b, b.Relu(b.Conv(b.Relu(b.BatchNorm(b.Conv(Stem(b), 8, 16, 3, pad: 1, groups: 2), 16)), 16, 16, 3))),
            "grouped-block" => GroupedBlock(b),
            "dense-concat" => DenseConcat(b),
            "pre-activation" => PreActivation(b),
            "fire-concat" => FireConcat(b),
            "squeeze-excitation" => SqueezeExcitation(b, opset, reduceMean: false),
            "reduce-mean-excitation" => SqueezeExcitation(b, opset, reduceMean: true),
            "channel-shuffle" => ChannelShuffle(b),
            "slice" => SliceChannels(b),
            "split" => SplitChannels(b),
            "residual" => Residual(b),
            _ => throw new ArgumentException($"No pattern model '{name}'.", nameof(name)),
        };
        return new OnnxTestModels.Model($"{name}-opset{opset}", b.Build(x, 10), x);
    }

    private static string Stem(OnnxModelBuilder b) => b.Relu(b.BatchNorm(b.Conv(Input, 1, 8, 3, pad: 1), 8));

    /// <summary>Global average pool, Flatten and a Gemm from the map's channels to 10 logits.</summary>
    private static string Head(OnnxModelBuilder b, string x, int channels = 16)
    {
        x = b.Node("Flatten", "/head/Flatten", [b.Node("GlobalAveragePool", "/head/GlobalAveragePool", [x])], Int("axis", 1));
        return b.Gemm(x, channels, 10, transB: true, name: "/head/fc");
    }

    private static string Padded(OnnxModelBuilder b, string op, string x, long[] weight, params AttributeProto[] attributes)
    {
        string name = $"/{op}{b.Graph.Node.Count}";
        var inputs = op == "Conv" ? new[] { x, b.Weights(name + ".weight", weight, Math.Sqrt(2.0 / (weight[1] * weight[2] * weight[3]))) } : [x];
        return b.Node(op, name, inputs, attributes);
    }

    /// <summary>CNTK's pads (ML.NET's ResNet18): [1, 1, 0, 0] where equal pads read the same cells, and [0, 0, 2, 2]
    /// where they would not.</summary>
    private static string AsymmetricPads(OnnxModelBuilder b)
    {
        var x = b.Relu(b.BatchNorm(Padded(b, "Conv", Input, [8, 1, 3, 3], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 0, 0)), 8));
        x = Padded(b, "MaxPool", x, [], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 0, 0));
        x = b.Relu(Padded(b, "Conv", x, [16, 8, 3, 3], Ints("kernel_shape", 3, 3), Ints("pads", 0, 0, 2, 2)));
        x = Padded(b, "MaxPool", x, [], Ints("kernel_shape", 2, 2), Ints("strides", 2, 2), Ints("pads", 0, 1, 1, 0));
        return Head(b, x);
    }

    /// <summary>TensorFlow-style SAME padding on odd and even kernels, strided and not.</summary>
    private static string SamePadding(OnnxModelBuilder b)
    {
        var x = b.Relu(Padded(b, "Conv", Input, [8, 1, 3, 3], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), String("auto_pad", "SAME_UPPER")));
        x = b.Relu(Padded(b, "Conv", x, [16, 8, 2, 2], Ints("kernel_shape", 2, 2), String("auto_pad", "SAME_LOWER")));
        x = Padded(b, "MaxPool", x, [], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), String("auto_pad", "SAME_UPPER"));
        x = b.Relu(Padded(b, "Conv", x, [16, 16, 3, 3], Ints("kernel_shape", 3, 3), String("auto_pad", "SAME_UPPER")));
        return Head(b, x);
    }

    /// <summary>Pad nodes (pads and value as inputs, as from opset 11), one with a non-zero value.</summary>
    private static string ExplicitPad(OnnxModelBuilder b)
    {
        var x = b.Node("Pad", "/pad1/Pad", [Stem(b), b.IntInitializer("/pad1.pads", 0, 0, 1, 2, 0, 0, 2, 1)], String("mode", "constant"));
        x = b.Relu(b.Conv(x, 8, 16, 3));
        x = b.Node("Pad", "/pad2/Pad", [x, b.IntInitializer("/pad2.pads", 0, 0, 1, 1, 0, 0, 1, 1), b.Initializer("/pad2.value", [], [0.5f])]);
        return Head(b, b.Relu(b.Conv(x, 16, 16, 3)));
    }

    /// <summary>SqueezeNet's and GoogLeNet's pools: ceil_mode 1, one padded average.</summary>
    private static string CeilMode(OnnxModelBuilder b)
    {
        var x = b.Pool("MaxPool", Stem(b), 3, 2, extra: Int("ceil_mode", 1));
        x = b.Relu(b.Conv(x, 8, 16, 3, pad: 1));
        x = b.Pool("AveragePool", x, 3, 2, pad: 1, extra: [Int("ceil_mode", 1), Int("count_include_pad", 0)]);
        return Head(b, b.Pool("MaxPool", x, 2, 2, extra: Int("ceil_mode", 1)));
    }

    /// <summary>An AveragePool whose 7x7 window is the whole last map, as CNTK and older exporters end a ResNet.</summary>
    private static string WholeMapAverage(OnnxModelBuilder b)
    {
        var x = b.Relu(b.Conv(Stem(b), 8, 16, 3, stride: 2, pad: 1));
        x = b.Relu(b.Conv(x, 16, 16, 3, stride: 2, pad: 1));
        x = b.Node("Flatten", "/head/Flatten", [b.Pool("AveragePool", x, 7, 1, extra: Int("count_include_pad", 0))], Int("axis", 1));
        return b.Gemm(x, 16, 10, transB: true, name: "/head/fc");
    }

    /// <summary>(x - mean) / std * scale on the image before the first conv.</summary>
    private static string InputNormalisation(OnnxModelBuilder b)
    {
        var x = b.Node("Sub", "/normalize/Sub", [Input, b.Initializer("/normalize.mean", [1, 1, 1], [0.286f])]);
        x = b.Node("Div", "/normalize/Div", [x, b.Initializer("/normalize.std", [1, 1, 1, 1], [0.353f])]);
        x = b.Node("Mul", "/normalize/Mul", [b.Initializer("/normalize.scale", [], [1.5f]), x]);
        return Head(b, b.Relu(b.Conv(b.Relu(b.Conv(x, 1, 8, 3, pad: 1)), 8, 16, 3, pad: 1)));
    }

    /// <summary>Conv, BN, the activation, twice, as MobileNet and EfficientNet blocks use it.</summary>
    private static string Activated(OnnxModelBuilder b, Func<string, string> activation)
    {
        var x = activation(b.BatchNorm(b.Conv(Input, 1, 8, 3, pad: 1), 8));
        x = activation(b.BatchNorm(b.Conv(x, 8, 16, 3, stride: 2, pad: 1), 16));
        return Head(b, b.Relu(b.Conv(x, 16, 16, 3)));
    }

    /// <summary>Weights kept as FLOAT16 (in raw_data and in int32_data), each cast to FLOAT before its conv.</summary>
    private static string Float16Weights(OnnxModelBuilder b)
    {
        string Half(string name, long[] dims, bool raw)
        {
            var rng = new Random(name.Length);
            var values = Enumerable.Range(0, (int)dims.Aggregate(1L, (p, d) => p * d)).Select(_ => (Half)(rng.NextDouble() - 0.5)).ToArray();
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float16 };
            t.Dims.AddRange(dims);
            if (raw)
                t.RawData = ByteString.CopyFrom(values.SelectMany(v => BitConverter.GetBytes(v)).ToArray());
            else
                t.Int32Data.AddRange(values.Select(v => (int)BitConverter.HalfToUInt16Bits(v)));
            b.Graph.Initializer.Add(t);
            return b.Node("Cast", name + "/Cast", [name], Int("to", (long)TensorProto.Types.DataType.Float));
        }
        var x = b.Relu(b.Node("Conv", "/conv1", [Input, Half("/conv1.weight", [8, 1, 3, 3], raw: true)], Ints("pads", 1, 1, 1, 1)));
        x = b.Relu(b.Node("Conv", "/conv2", [x, Half("/conv2.weight", [16, 8, 3, 3], raw: false), Half("/conv2.bias", [16], raw: true)]));
        return Head(b, x);
    }

    /// <summary>MobileNetV2's inverted residual: 1x1 expansion, 3x3 depthwise, 1x1 projection, each with BN.</summary>
    private static string Depthwise(OnnxModelBuilder b)
    {
        var x = b.Clip(b.BatchNorm(b.Conv(Stem(b), 8, 24, 1), 24), 0, 6);
        x = b.Clip(b.BatchNorm(b.Conv(x, 24, 24, 3, stride: 2, pad: 1, groups: 24), 24), 0, 6);
        x = b.BatchNorm(b.Conv(x, 24, 16, 1), 16);
        return Head(b, b.Relu(b.Conv(x, 16, 16, 3, pad: 1)));
    }

    /// <summary>A depthwise conv over a concatenation, as in Inception-style blocks of mobile nets: each producer's
    /// channels are followed at their offset.</summary>
    private static string ConcatDepthwise(OnnxModelBuilder b)
    {
        var x = Stem(b);
        x = b.Node("Concat", "/branches/Concat", [b.Relu(b.BatchNorm(b.Conv(x, 8, 8, 1), 8)), b.Relu(b.BatchNorm(b.Conv(x, 8, 8, 3, pad: 1), 8))], Int("axis", 1));
        x = b.Relu(b.BatchNorm(b.Conv(x, 16, 16, 3, pad: 1, groups: 16), 16));
        return Head(b, b.Relu(b.Conv(x, 16, 16, 1)));
    }

    /// <summary>DenseNet's growth: each layer's output concatenated to its input.</summary>
    private static string DenseConcat(OnnxModelBuilder b)
    {
        var x = Stem(b);
        var grown = b.Node("Concat", "/dense1/Concat", [x, b.Relu(b.BatchNorm(b.Conv(x, 8, 4, 3, pad: 1), 4))], Int("axis", 1));
        grown = b.Node("Concat", "/dense2/Concat", [grown, b.Relu(b.Conv(grown, 12, 4, 3, pad: 1))], Int("axis", 1));
        return Head(b, b.Relu(b.Conv(b.Pool("AveragePool", grown, 2, 2), 16, 16, 1)));
    }

    /// <summary>DenseNet's pre-activation: BatchNormalization, ReLU and a conv on each Concat, so that the BNs on the
    /// Concats follow no conv of their own; the bottleneck's BN follows its conv.</summary>
    private static string PreActivation(OnnxModelBuilder b)
    {
        var x = Stem(b);
        var grown = b.Concat([x, b.Conv(x, 8, 8, 3, pad: 1, bias: false)], "/dense1/Concat");
        var y = b.Relu(b.BatchNorm(b.Conv(b.Relu(b.BatchNorm(grown, 16)), 16, 16, 1, bias: false), 16));
        grown = b.Concat([grown, b.Conv(y, 16, 8, 3, pad: 1, bias: false)], "/dense2/Concat");
        x = b.Conv(b.Relu(b.BatchNorm(grown, 24)), 24, 16, 1, bias: false);
        return Head(b, b.Relu(b.Conv(b.Pool("AveragePool", x, 2, 2), 16, 16, 3, pad: 1)));
    }

    /// <summary>SqueezeNet's fire module: a 1x1 squeeze feeding 1x1 and 3x3 expansions, concatenated.</summary>
    private static string FireConcat(OnnxModelBuilder b)
    {
        var squeeze = b.Relu(b.Conv(b.Pool("MaxPool", Stem(b), 3, 2, extra: Int("ceil_mode", 1)), 8, 4, 1));
        var x = b.Node("Concat", "/fire/Concat", [b.Relu(b.Conv(squeeze, 4, 8, 1)), b.Relu(b.Conv(squeeze, 4, 8, 3, pad: 1))], Int("axis", 1));
        return Head(b, x);
    }

    /// <summary>Squeeze-excitation as MobileNetV3 (ReduceMean, HardSigmoid) or EfficientNet (GlobalAveragePool, SiLU,
    /// Sigmoid) write it: a per-channel gate from two 1x1 convs multiplies the block's map.</summary>
    private static string SqueezeExcitation(OnnxModelBuilder b, long opset, bool reduceMean)
    {
        var x = b.Relu(b.BatchNorm(b.Conv(Stem(b), 8, 16, 3, stride: 2, pad: 1), 16));
        string squeeze = !reduceMean ? b.Node("GlobalAveragePool", "/se/GlobalAveragePool", [x])
            : opset < 18 ? b.Node("ReduceMean", "/se/ReduceMean", [x], Ints("axes", 2, 3), Int("keepdims", 1))
            : b.Node("ReduceMean", "/se/ReduceMean", [x, b.IntInitializer("/se.axes", 2, 3)], Int("keepdims", 1));
        var hidden = b.Conv(squeeze, 16, 4, 1, name: "/se/fc1");
        hidden = reduceMean ? b.Relu(hidden) : b.Silu(hidden, "/se/silu");
        var gate = b.Conv(hidden, 4, 16, 1, name: "/se/fc2");
        gate = reduceMean ? b.HardSigmoid(gate, "/se/HardSigmoid") : b.Node("Sigmoid", "/se/Sigmoid", [gate]);
        x = b.Node("Mul", "/se/Mul", [x, gate]);
        return Head(b, b.Relu(b.Conv(x, 16, 16, 3, pad: 1)));
    }

    /// <summary>ShuffleNetV2's unit: Split the channels, transform one half, Concat and shuffle in two groups.</summary>
    private static string ChannelShuffle(OnnxModelBuilder b)
    {
        var x = b.Relu(b.BatchNorm(b.Conv(Input, 1, 16, 3, stride: 2, pad: 1), 16));
        var halves = b.Split(x, "/unit/Split", 8, 8);
        var branch = b.Relu(b.BatchNorm(b.Conv(halves[1], 8, 8, 1), 8));
        branch = b.BatchNorm(b.Conv(branch, 8, 8, 3, pad: 1, groups: 8), 8);
        branch = b.Relu(b.BatchNorm(b.Conv(branch, 8, 8, 1), 8));
        x = b.Concat([halves[0], branch], "/unit/Concat");
        x = b.Node("Reshape", "/unit/Reshape", [x, b.IntInitializer("/unit.grouped", -1, 2, 8, 14, 14)]);
        x = b.Node("Transpose", "/unit/Transpose", [x], Ints("perm", 0, 2, 1, 3, 4));
        x = b.Node("Reshape", "/unit/Reshape_1", [x, b.IntInitializer("/unit.shuffled", -1, 16, 14, 14)]);
        return Head(b, b.Relu(b.Conv(x, 16, 16, 3, pad: 1)));
    }

    /// <summary>Split of the channels into unequal parts read by different layers, one through a depthwise conv, and
    /// joined again, as Inception-style and ShuffleNet blocks do.</summary>
    private static string SplitChannels(OnnxModelBuilder b)
    {
        var x = b.Relu(b.BatchNorm(b.Conv(Input, 1, 16, 3, stride: 2, pad: 1), 16));
        var parts = b.Split(x, "/block/Split", 6, 10);
        var left = b.Relu(b.BatchNorm(b.Conv(parts[0], 6, 8, 1), 8));
        var right = b.Relu(b.BatchNorm(b.Conv(parts[1], 10, 10, 3, pad: 1, groups: 10), 10));
        x = b.Concat([left, right], "/block/Concat");
        return Head(b, b.Relu(b.Conv(x, 18, 16, 3, pad: 1)));
    }

    /// <summary>ResNeXt's bottleneck without its shortcut: a 1x1 conv, a 3x3 conv in 4 groups of 4 channels in and out,
    /// and a 1x1 conv, each with BN.</summary>
    private static string GroupedBlock(OnnxModelBuilder b)
    {
        var x = b.Relu(b.BatchNorm(b.Conv(Stem(b), 8, 16, 1), 16));
        x = b.Relu(b.BatchNorm(b.Conv(x, 16, 16, 3, pad: 1, groups: 4), 16));
        return Head(b, b.Relu(b.BatchNorm(b.Conv(x, 16, 16, 1), 16)));
    }

    /// <summary>Slice of a channel range (inputs from opset 10), as some exports write a Split.</summary>
    private static string SliceChannels(OnnxModelBuilder b)
    {
        var x = b.Relu(b.Conv(Input, 1, 16, 3, pad: 1));
        x = b.Node("Slice", "/Slice", [x, b.IntInitializer("/slice.starts", 4), b.IntInitializer("/slice.ends", -2), b.IntInitializer("/slice.axes", 1), b.IntInitializer("/slice.steps", 1)]);
        return Head(b, b.Relu(b.Conv(x, 10, 16, 3, stride: 2)));
    }

    /// <summary>Residual sums as ResNet and MobileNetV2 write them: a basic block on an identity shortcut, one with a
    /// strided 1x1 projection shortcut, and a linear bottleneck whose sum has no ReLU after it. The last convs of each
    /// branch have small weights, so that the sums do not grow block by block.</summary>
    private static string Residual(OnnxModelBuilder b)
    {
        var x = Stem(b);
        var h = b.Relu(b.BatchNorm(b.Conv(x, 8, 8, 3, pad: 1, name: "/block1/conv1/Conv"), 8));
        h = b.BatchNorm(b.Conv(h, 8, 8, 3, pad: 1, name: "/block1/conv2/Conv", gain: 0.5), 8);
        x = b.Relu(b.Node("Add", "/block1/Add", [h, x]));
        h = b.Relu(b.BatchNorm(b.Conv(x, 8, 16, 3, stride: 2, pad: 1, name: "/block2/conv1/Conv"), 16));
        h = b.BatchNorm(b.Conv(h, 16, 16, 3, pad: 1, name: "/block2/conv2/Conv", gain: 0.5), 16);
        var shortcut = b.BatchNorm(b.Conv(x, 8, 16, 1, stride: 2, name: "/block2/shortcut/Conv"), 16);
        x = b.Relu(b.Node("Add", "/block2/Add", [h, shortcut]));
        h = b.Clip(b.BatchNorm(b.Conv(x, 16, 32, 1, name: "/block3/expand/Conv"), 32), 0, 6);
        h = b.BatchNorm(b.Conv(h, 32, 16, 1, name: "/block3/project/Conv", gain: 0.5), 16);
        return Head(b, b.Node("Add", "/block3/Add", [h, x]));
    }

    /// <summary>All of the above in one network, for a real compression run.</summary>
    private static string Mixed(OnnxModelBuilder b)
    {
        var x = b.Node("Div", "/normalize/Div", [b.Node("Sub", "/normalize/Sub", [Input, b.Initializer("/normalize.mean", [1, 1, 1], [0.286f])]),
            b.Initializer("/normalize.std", [], [0.353f])]);
        x = b.Relu(b.BatchNorm(Padded(b, "Conv", x, [16, 1, 3, 3], Ints("kernel_shape", 3, 3), String("auto_pad", "SAME_UPPER")), 16));
        x = Padded(b, "MaxPool", x, [], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 0, 0));
        x = b.HardSwish(b.BatchNorm(b.Conv(x, 16, 16, 3, pad: 1), 16), $"/act{b.Graph.Node.Count}");
        x = b.Node("LeakyRelu", "/act/LeakyRelu", [b.BatchNorm(b.Conv(x, 16, 24, 3, pad: 1), 24)], Float("alpha", 0.1f));
        x = b.Pool("MaxPool", x, 3, 2, extra: Int("ceil_mode", 1));
        var y = b.BatchNorm(b.Conv(x, 24, 24, 3, pad: 1), 24);
        x = b.Silu(y, "/act");
        x = b.Node("Pad", "/pad/Pad", [x, b.IntInitializer("/pad.pads", 0, 0, 1, 1, 0, 0, 1, 1)]);
        x = b.Clip(b.Conv(x, 24, 32, 3), -1, 3);
        x = b.Node("Flatten", "/head/Flatten", [b.Pool("AveragePool", x, 7, 7)], Int("axis", 1));
        return b.Gemm(x, 32, 10, transB: true, name: "/head/fc");
    }
}
