using static Microsoft.ML.Edp.Tests.OnnxModelBuilder;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The ONNX CNNs the import tests write: each with the name of the value holding its logits.</summary>
internal static class OnnxTestModels
{
    public sealed record Model(string Name, byte[] Bytes, string Logits, long? FixedBatch = null)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Model> All => [Vgg13(), Old7(), Residual11(), TorchView9()];

    /// <summary>VGG-style at opset 13 / IR 8, as a recent PyTorch writes it: Conv+BN+Relu, ReLU6 as Clip with
    /// initializer bounds, max pools, global average pool + Flatten, Gemm (transB 1) and a final Softmax.</summary>
    public static Model Vgg13(int seed = 1)
    {
        var b = new OnnxModelBuilder(opset: 13, irVersion: 8, seed);
        var x = b.Relu(b.BatchNorm(b.Conv(Input, 1, 8, 3, pad: 1), 8));
        x = b.Clip(b.BatchNorm(b.Conv(x, 8, 8, 3, pad: 1, bias: false), 8), 0, 6);
        x = b.Pool("MaxPool", x, 2, 2);
        x = b.Relu(b.BatchNorm(b.Conv(x, 8, 16, 3, pad: 1), 16));
        x = b.Pool("MaxPool", x, 2, 2);
        x = b.Relu(b.Conv(x, 16, 16, 3));
        x = b.Node("GlobalAveragePool", "/pool/GlobalAveragePool", [x]);
        x = b.Node("Flatten", "/Flatten", [x], Int("axis", 1));
        var logits = b.Gemm(x, 16, 10, transB: true, name: "/classifier/fc");
        var probabilities = b.Node("Softmax", "/Softmax", [logits], Int("axis", 1));
        return new Model("vgg-opset13", b.Build(probabilities, 10), logits);
    }

    /// <summary>LeNet-style at opset 7 / IR 3, as old exporters wrote it: a fixed batch of 1, initializers in float_data
    /// and listed among the graph inputs, Clip with attribute bounds, average pools (one padded), Dropout, a Reshape to
    /// [1, -1], MatMul + Add linear layers, Identity and a final Softmax.</summary>
    public static Model Old7(int seed = 2)
    {
        var b = new OnnxModelBuilder(opset: 7, irVersion: 3, seed, floatData: true, initializersAsInputs: true, fixedBatch: 1);
        var x = b.Clip(b.BatchNorm(b.Conv(Input, 1, 6, 5, pad: 2, bias: false, name: "conv1"), 6, "bn1", epsilon: 1e-3f), 0, 6, "relu6_1");
        x = b.Pool("AveragePool", x, 2, 2, name: "pool1");
        x = b.Relu(b.Conv(x, 6, 12, 3, name: "conv2"), "relu2");
        x = b.Pool("AveragePool", x, 3, 3, pad: 1, name: "pool2", Int("count_include_pad", 0));
        x = b.Node("Dropout", "dropout", [x], Float("ratio", 0.5f));
        x = b.Node("Reshape", "flatten", [x, b.IntInitializer("flatten.shape", 1, -1)]);
        x = b.Relu(b.MatMulAdd(x, 12 * 4 * 4, 32, "fc1"), "relu3");
        x = b.Node("Identity", "identity", [x]);
        var logits = b.MatMulAdd(x, 32, 10, "fc2");
        var probabilities = b.Node("Softmax", "prob", [logits], Int("axis", 1));
        return new Model("lenet-opset7-ir3", b.Build(probabilities, 10), logits, FixedBatch: 1);
    }

    /// <summary>At opset 9, as PyTorch wrote <c>x.view(x.size(0), -1)</c>: Shape, Gather of the batch, Unsqueeze and
    /// Concat with -1 feed the Reshape; a padded MaxPool, a Gemm and a final LogSoftmax.</summary>
    public static Model TorchView9(int seed = 4)
    {
        var b = new OnnxModelBuilder(opset: 9, irVersion: 4, seed);
        var x = b.Relu(b.BatchNorm(b.Conv(Input, 1, 8, 3, stride: 2, name: "0"), 8, "1"), "2");
        x = b.Pool("MaxPool", x, 3, 2, pad: 1, name: "3");
        x = b.Relu(b.Conv(x, 8, 12, 3, name: "4"), "5");
        var shape = b.Node("Shape", "6", [x]);
        var batch = b.Node("Gather", "7", [shape, b.Constant("8", Scalar(IntTensor("zero", 0)))], Int("axis", 0));
        var batch1 = b.Node("Unsqueeze", "9", [batch], Ints("axes", 0));
        var target = b.Node("Concat", "10", [batch1, b.IntInitializer("minus_one", -1)], Int("axis", 0));
        x = b.Node("Reshape", "11", [x, target]);
        var logits = b.Gemm(x, 12 * 5 * 5, 10, transB: true, name: "12");
        var logProbabilities = b.Node("LogSoftmax", "13", [logits], Int("axis", 1));
        return new Model("torch-view-opset9", b.Build(logProbabilities, 10), logits);
    }

    /// <summary>The tensor as a rank-0 scalar.</summary>
    private static Onnx.TensorProto Scalar(Onnx.TensorProto t)
    {
        t.Dims.Clear();
        return t;
    }

    /// <summary>A small ResNet at opset 11 / IR 6: an identity block and a projection block (stride 2, 1x1 conv
    /// shortcut), ReLU6 as Clip with Constant-node bounds, a padded max pool, global pool + Reshape to [-1, 16] from
    /// a Constant, and a Gemm with transB 0; no Softmax, the output is the logits.</summary>
    public static Model Residual11(int seed = 3)
    {
        var b = new OnnxModelBuilder(opset: 11, irVersion: 6, seed);
        var stem = b.Relu(b.BatchNorm(b.Conv(Input, 1, 8, 3, pad: 1, bias: false), 8));
        var y = b.Relu(b.BatchNorm(b.Conv(stem, 8, 8, 3, pad: 1, bias: false), 8));
        y = b.BatchNorm(b.Conv(y, 8, 8, 3, pad: 1, bias: false), 8);
        var x = b.Relu(b.Node("Add", "/layer1/Add", [y, stem]));
        var zero = b.Constant("/layer2/clip_min", FloatTensor("zero", [], [0f]));
        var six = b.Constant("/layer2/clip_max", FloatTensor("six", [], [6f]));
        y = b.BatchNorm(b.Conv(x, 8, 16, 3, stride: 2, pad: 1, bias: false), 16);
        y = b.Node("Clip", "/layer2/Clip", [y, zero, six]);
        y = b.BatchNorm(b.Conv(y, 16, 16, 3, pad: 1, bias: false), 16);
        var shortcut = b.BatchNorm(b.Conv(x, 8, 16, 1, stride: 2, bias: false, name: "/layer2/downsample/Conv"), 16);
        x = b.Relu(b.Node("Add", "/layer2/Add", [y, shortcut]));
        x = b.Pool("MaxPool", x, 3, 2, pad: 1);
        x = b.Node("GlobalAveragePool", "/avgpool", [x]);
        x = b.Node("Reshape", "/Reshape", [x, b.Constant("/shape", IntTensor("shape", -1, 16))]);
        var logits = b.Gemm(x, 16, 10, transB: false, name: "/fc/Gemm");
        return new Model("resnet-opset11", b.Build(logits, 10), logits);
    }

    /// <summary>A ResNet-50-style network at opset 13: bottleneck blocks (1x1 reduce, 3x3, 1x1 expand) with 1x1
    /// projection shortcuts of stride 2, down to 2x2 maps before the global pool, as torchvision writes them. Some BN
    /// scales are zero, as in trained ResNets whose blocks learned to pass their shortcut through.</summary>
    public static Model Bottleneck13(int seed = 5)
    {
        var b = new OnnxModelBuilder(opset: 13, irVersion: 8, seed);
        var x = b.Relu(b.BatchNorm(b.Conv(Input, 1, 16, 3, pad: 1, bias: false, name: "/conv1/Conv"), 16));
        x = b.Pool("MaxPool", x, 3, 2, pad: 1);
        x = Block(b, x, "layer1", 16, 8, 32, 1);
        x = Block(b, x, "layer2", 32, 16, 64, 2);
        x = Block(b, x, "layer3", 64, 16, 64, 2);
        x = Block(b, x, "layer4", 64, 32, 128, 2);
        x = b.Node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [x]);
        x = b.Node("Flatten", "/Flatten", [x], Int("axis", 1));
        var logits = b.Gemm(x, 128, 10, transB: true, name: "/fc/Gemm");
        return new Model("bottleneck-opset13", b.Build(logits, 10), logits);

        static string Block(OnnxModelBuilder b, string x, string name, int inChannels, int mid, int outChannels, int stride)
        {
            var y = b.Relu(b.BatchNorm(b.Conv(x, inChannels, mid, 1, bias: false, name: $"/{name}/conv1/Conv"), mid));
            y = b.Relu(b.BatchNorm(b.Conv(y, mid, mid, 3, stride: stride, pad: 1, bias: false, name: $"/{name}/conv2/Conv"), mid));
            y = b.BatchNorm(b.Conv(y, mid, outChannels, 1, bias: false, name: $"/{name}/conv3/Conv"), outChannels, zeroScales: 3);
            var shortcut = b.BatchNorm(b.Conv(x, inChannels, outChannels, 1, stride: stride, bias: false, name: $"/{name}/downsample/Conv"), outChannels);
            return b.Relu(b.Node("Add", $"/{name}/Add", [y, shortcut]));
        }
    }
}
