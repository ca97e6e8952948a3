using static Microsoft.ML.Edp.Tests.OnnxModelBuilder;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The common CNN families as torch.onnx.export writes torchvision's models at opset 13 in eval mode, with
/// random weights, for 3x64x64 images and 10 classes: torchvision's layer counts, widths, strides, expansion ratios,
/// kernel sizes, paddings and pooling modes, and the nodes the exporter writes for each module (ReLU6 as Clip,
/// Hardswish as x * HardSigmoid(x) and SiLU as x * Sigmoid(x) before opset 14, adaptive average pools as
/// GlobalAveragePool, torch.flatten as Flatten, chunk as Split, the channel shuffle's views as Reshapes whose batch
/// comes from Shape, x.mean([2, 3]) as ReduceMean, Linear as Gemm). Dropout and the auxiliary classifiers do nothing
/// in eval mode and are not written. A conv's BatchNorm is a BatchNormalization node after it, or, with
/// <c>foldBatchNorm</c>, folded into the conv's weight and bias as the exporter does in eval mode; a BatchNorm that
/// follows no conv (DenseNet's, before each conv) is a node either way. GoogLeNet is torchvision's without
/// <c>transform_input</c> (its default for random weights). <c>width</c> scales every channel width as torchvision's
/// width multipliers do (to a multiple of 8, of 16 for RegNet's group width); at 1 the widths are torchvision's.</summary>
/// <remarks>Weights are He-initialised and BN statistics random, so activations keep their scale through the depth;
/// the last BN (or folded conv) of each residual branch is scaled by <see cref="ResidualGain"/>, as trained residual
/// networks have small last-BN scales, so that the residual sums do not double block by block.</remarks>
internal static class OnnxFamilyModels
{
    public static readonly string[] Names =
    [
        "resnet50", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "efficientnet_b0", "densenet121",
        "squeezenet1_1", "googlenet", "regnet_x_400mf",
    ];

    public const int Channels = 3, Side = 64, Classes = 10;

    /// <summary>RegNetX's channels per group in its grouped convs.</summary>
    private const int GroupWidth = 16;

    /// <summary>The factor on the random scales of a residual branch's last BN (or folded conv).</summary>
    private const double ResidualGain = 0.2;

    /// <summary>The family's model; its output is the logits.</summary>
    public static OnnxTestModels.Model Build(string name, bool foldBatchNorm = false, double width = 1, int seed = 13)
    {
        if (!(width is > 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(width), width, $"The width multiplier must be in (0, 1]; found {width}.");
        var f = new Writer(new OnnxModelBuilder(opset: 13, irVersion: 8, seed, channels: Channels, height: Side, width: Side), foldBatchNorm, width);
        string logits = name switch
        {
            "resnet50" => ResNet50(f),
            "mobilenet_v2" => MobileNetV2(f),
            "mobilenet_v3_small" => MobileNetV3Small(f),
            "shufflenet_v2_x0_5" => ShuffleNetV2(f),
            "efficientnet_b0" => EfficientNetB0(f),
            "densenet121" => DenseNet121(f),
            "squeezenet1_1" => SqueezeNet11(f),
            "googlenet" => GoogLeNet(f),
            "regnet_x_400mf" => RegNetX400MF(f),
            _ => throw new ArgumentException($"No family model '{name}'; expected one of {string.Join(", ", Names)}.", nameof(name)),
        };
        return new OnnxTestModels.Model(name + (width == 1 ? "" : $"-{width:0.###}x") + (foldBatchNorm ? "-folded" : ""), f.B.Build(logits, Classes), logits);
    }

    /// <summary>torchvision's resnet50: bottlenecks of 3, 4, 6 and 3 blocks, the stride in the 3x3 conv (v1.5), a 1x1
    /// projection on each stage's first block.</summary>
    private static string ResNet50(Writer f)
    {
        int inChannels = f.W(64);
        var x = f.B.Relu(f.ConvBn(Input, "/conv1", 3, inChannels, 7, stride: 2, pad: 3));
        x = f.B.Pool("MaxPool", x, 3, 2, pad: 1, name: "/maxpool/MaxPool");
        foreach (var (stage, planes, blocks, stride) in new[] { (1, 64, 3, 1), (2, 128, 4, 2), (3, 256, 6, 2), (4, 512, 3, 2) })
            for (int i = 0; i < blocks; i++)
            {
                string m = $"/layer{stage}/layer{stage}.{i}";
                int width = f.W(planes), s = i == 0 ? stride : 1, outChannels = 4 * width;
                var y = f.B.Relu(f.ConvBn(x, m + "/conv1", inChannels, width, 1));
                y = f.B.Relu(f.ConvBn(y, m + "/conv2", width, width, 3, stride: s));
                y = f.ConvBn(y, m + "/conv3", width, outChannels, 1, gain: ResidualGain);
                var shortcut = i == 0 ? f.ConvBn(x, m + "/downsample/downsample.0", inChannels, outChannels, 1, stride: s) : x;
                x = f.B.Relu(f.B.Node("Add", m + "/Add", [y, shortcut]), m + "/relu_2/Relu");
                inChannels = outChannels;
            }
        return f.Classifier(x, inChannels, "/fc/Gemm");
    }

    /// <summary>torchvision's mobilenet_v2: inverted residuals (expansion t, width c, n blocks, first stride s) with
    /// ReLU6, a linear projection, and a residual where stride is 1 and the width stays.</summary>
    private static string MobileNetV2(Writer f)
    {
        int inChannels = f.W(32), block = 1;
        var x = f.Relu6(f.ConvBn(Input, "/features/features.0/features.0.0", 3, inChannels, 3, stride: 2), "/features/features.0/features.0.2");
        foreach (var (t, width, n, s) in new[] { (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1) })
            for (int i = 0; i < n; i++, block++)
            {
                string m = $"/features/features.{block}/conv";
                int stride = i == 0 ? s : 1, hidden = inChannels * t, c = f.W(width);
                bool residual = stride == 1 && inChannels == c;
                int part = 0;
                var y = x;
                if (t != 1)
                    y = f.Relu6(f.ConvBn(y, m + $"/conv.{part}/conv.{part}.0", inChannels, hidden, 1), m + $"/conv.{part}/conv.{part++}.2");
                y = f.Relu6(f.ConvBn(y, m + $"/conv.{part}/conv.{part}.0", hidden, hidden, 3, stride: stride, groups: hidden), m + $"/conv.{part}/conv.{part++}.2");
                y = f.ConvBn(y, m + $"/conv.{part}", hidden, c, 1, gain: residual ? ResidualGain : 1);
                x = residual ? f.B.Node("Add", $"/features/features.{block}/Add", [x, y]) : y;
                inChannels = c;
            }
        // torchvision keeps the last width at 1280 below width 1.
        x = f.Relu6(f.ConvBn(x, $"/features/features.{block}/features.{block}.0", inChannels, 1280, 1), $"/features/features.{block}/features.{block}.2");
        return f.Classifier(x, 1280, "/classifier/classifier.1/Gemm");
    }

    /// <summary>torchvision's mobilenet_v3_small: its eleven bneck blocks (kernel, expanded width, width, SE, ReLU or
    /// Hardswish, stride), squeeze-excitation with a HardSigmoid gate, BN epsilon 0.001, and the two-layer classifier.</summary>
    private static string MobileNetV3Small(Writer f)
    {
        const float epsilon = 1e-3f;
        int inChannels = f.W(16), block = 1;
        var x = f.B.HardSwish(f.ConvBn(Input, "/features/features.0/features.0.0", 3, inChannels, 3, stride: 2, epsilon: epsilon), "/features/features.0/features.0.2");
        foreach (var (k, expandedWidth, width, se, hardSwish, s) in new[]
        {
            (3, 16, 16, true, false, 2), (3, 72, 24, false, false, 2), (3, 88, 24, false, false, 1), (5, 96, 40, true, true, 2),
            (5, 240, 40, true, true, 1), (5, 240, 40, true, true, 1), (5, 120, 48, true, true, 1), (5, 144, 48, true, true, 1),
            (5, 288, 96, true, true, 2), (5, 576, 96, true, true, 1), (5, 576, 96, true, true, 1),
        })
        {
            string m = $"/features/features.{block++}/block";
            int expanded = f.W(expandedWidth), c = f.W(width);
            string Act(string v, int at) => hardSwish ? f.B.HardSwish(v, m + $"/block.{at}/block.{at}.2") : f.B.Relu(v, m + $"/block.{at}/block.{at}.2/Relu");
            bool residual = s == 1 && inChannels == c;
            int part = 0;
            var y = x;
            if (expanded != inChannels)
                y = Act(f.ConvBn(y, m + $"/block.{part}/block.{part}.0", inChannels, expanded, 1, epsilon: epsilon), part++);
            y = Act(f.ConvBn(y, m + $"/block.{part}/block.{part}.0", expanded, expanded, k, stride: s, groups: expanded, epsilon: epsilon), part++);
            if (se)
                y = SqueezeExcitation(f, y, m + $"/block.{part++}", expanded, MakeDivisible(expanded / 4, 8), hardSigmoid: true);
            y = f.ConvBn(y, m + $"/block.{part}/block.{part}.0", expanded, c, 1, epsilon: epsilon, gain: residual ? ResidualGain : 1);
            x = residual ? f.B.Node("Add", m.Replace("/block", "") + "/Add", [y, x]) : y;
            inChannels = c;
        }
        int last = 6 * inChannels, hidden = f.W(1024);
        x = f.B.HardSwish(f.ConvBn(x, $"/features/features.{block}/features.{block}.0", inChannels, last, 1, epsilon: epsilon), $"/features/features.{block}/features.{block}.2");
        x = f.B.Node("Flatten", "/Flatten", [f.B.Node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [x])], Int("axis", 1));
        x = f.B.HardSwish(f.B.Gemm(x, last, hidden, transB: true, name: "/classifier/classifier.0/Gemm"), "/classifier/classifier.1");
        return f.B.Gemm(x, hidden, Classes, transB: true, name: "/classifier/classifier.3/Gemm");
    }

    /// <summary>torchvision's shufflenet_v2_x0_5: stages of 4, 8 and 4 units at widths 48, 96 and 192; a unit of stride
    /// 2 runs both branches on its input, one of stride 1 splits the channels and transforms the second half; each
    /// concatenation is shuffled in two groups; the head averages with x.mean([2, 3]).</summary>
    private static string ShuffleNetV2(Writer f)
    {
        int inChannels = f.W(24);
        var x = f.B.Relu(f.ConvBn(Input, "/conv1/conv1.0", 3, inChannels, 3, stride: 2));
        x = f.B.Pool("MaxPool", x, 3, 2, pad: 1, name: "/maxpool/MaxPool");
        long side = Side / 4;
        foreach (var (stage, repeats, width) in new[] { (2, 4, 48), (3, 8, 96), (4, 4, 192) })
            for (int i = 0; i < repeats; i++)
            {
                string m = $"/stage{stage}/stage{stage}.{i}";
                int outChannels = f.W(width), half = outChannels / 2;
                string left, right;
                if (i == 0)
                {
                    side /= 2;
                    left = f.ConvBn(x, m + "/branch1/branch1.0", inChannels, inChannels, 3, stride: 2, groups: inChannels);
                    left = f.B.Relu(f.ConvBn(left, m + "/branch1/branch1.2", inChannels, half, 1));
                    right = x;
                }
                else
                {
                    var halves = f.B.Split(x, m + "/Split", half, half);
                    (left, right) = (halves[0], halves[1]);
                }
                right = f.B.Relu(f.ConvBn(right, m + "/branch2/branch2.0", i == 0 ? inChannels : half, half, 1));
                right = f.ConvBn(right, m + "/branch2/branch2.3", half, half, 3, stride: i == 0 ? 2 : 1, groups: half);
                right = f.B.Relu(f.ConvBn(right, m + "/branch2/branch2.5", half, half, 1));
                x = ChannelShuffle(f.B, f.B.Concat([left, right], m + "/Concat"), m, outChannels, side);
                inChannels = outChannels;
            }
        int last = f.W(1024);
        x = f.B.Relu(f.ConvBn(x, "/conv5/conv5.0", inChannels, last, 1));
        x = f.B.Node("ReduceMean", "/ReduceMean", [x], Ints("axes", 2, 3), Int("keepdims", 0));
        return f.B.Gemm(x, last, Classes, transB: true, name: "/fc/Gemm");
    }

    /// <summary>x.view(n, 2, c / 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w), the batch read with Shape as
    /// an export with a dynamic batch axis writes it.</summary>
    private static string ChannelShuffle(OnnxModelBuilder b, string x, string m, int channels, long side)
    {
        var batch = b.Node("Unsqueeze", m + "/Unsqueeze", [b.Node("Gather", m + "/Gather", [b.Node("Shape", m + "/Shape", [x]), b.IntScalar(m + ".batch_index", 0)], Int("axis", 0)), b.IntInitializer(m + ".unsqueeze_axes", 0)]);
        var grouped = b.Node("Concat", m + "/Concat_1", [batch, b.IntInitializer(m + ".grouped", 2, channels / 2, side, side)], Int("axis", 0));
        x = b.Node("Transpose", m + "/Transpose", [b.Node("Reshape", m + "/Reshape", [x, grouped])], Ints("perm", 0, 2, 1, 3, 4));
        var flat = b.Node("Concat", m + "/Concat_2", [batch, b.IntInitializer(m + ".shuffled", -1, side, side)], Int("axis", 0));
        return b.Node("Reshape", m + "/Reshape_1", [x, flat]);
    }

    /// <summary>torchvision's efficientnet_b0: MBConv stages (expansion, kernel, stride, width, layers), SiLU,
    /// squeeze-excitation on a quarter of the block's input width with a Sigmoid gate, and a residual where stride is
    /// 1 and the width stays.</summary>
    private static string EfficientNetB0(Writer f)
    {
        int inChannels = f.W(32), stage = 1;
        var x = f.B.Silu(f.ConvBn(Input, "/features/features.0/features.0.0", 3, inChannels, 3, stride: 2), "/features/features.0/features.0.2");
        foreach (var (t, k, s, width, layers) in new[] { (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1) })
        {
            for (int i = 0; i < layers; i++)
            {
                string m = $"/features/features.{stage}/features.{stage}.{i}/block";
                int stride = i == 0 ? s : 1, expanded = MakeDivisible(inChannels * t, 8), c = f.W(width), part = 0;
                bool residual = stride == 1 && inChannels == c;
                var y = x;
                if (expanded != inChannels)
                    y = f.B.Silu(f.ConvBn(y, m + $"/block.{part}/block.{part}.0", inChannels, expanded, 1), m + $"/block.{part}/block.{part++}.2");
                y = f.B.Silu(f.ConvBn(y, m + $"/block.{part}/block.{part}.0", expanded, expanded, k, stride: stride, groups: expanded), m + $"/block.{part}/block.{part++}.2");
                y = SqueezeExcitation(f, y, m + $"/block.{part++}", expanded, Math.Max(1, inChannels / 4), hardSigmoid: false);
                y = f.ConvBn(y, m + $"/block.{part}/block.{part}.0", expanded, c, 1, gain: residual ? ResidualGain : 1);
                x = residual ? f.B.Node("Add", m.Replace("/block", "") + "/Add", [y, x]) : y;
                inChannels = c;
            }
            stage++;
        }
        int last = 4 * inChannels;
        x = f.B.Silu(f.ConvBn(x, $"/features/features.{stage}/features.{stage}.0", inChannels, last, 1), $"/features/features.{stage}/features.{stage}.2");
        return f.Classifier(x, last, "/classifier/classifier.1/Gemm");
    }

    /// <summary>torchvision's SqueezeExcitation: adaptive average pool, 1x1 conv, ReLU (MobileNetV3) or SiLU
    /// (EfficientNet), 1x1 conv, HardSigmoid or Sigmoid, the gate times the map.</summary>
    private static string SqueezeExcitation(Writer f, string x, string m, int channels, int squeeze, bool hardSigmoid)
    {
        var s = f.B.Conv(f.B.Node("GlobalAveragePool", m + "/avgpool/GlobalAveragePool", [x]), channels, squeeze, 1, name: m + "/fc1/Conv");
        s = hardSigmoid ? f.B.Relu(s, m + "/activation/Relu") : f.B.Silu(s, m + "/activation");
        s = f.B.Conv(s, squeeze, channels, 1, name: m + "/fc2/Conv");
        s = hardSigmoid ? f.B.HardSigmoid(s, m + "/scale_activation/HardSigmoid") : f.B.Node("Sigmoid", m + "/scale_activation/Sigmoid", [s]);
        return f.B.Node("Mul", m + "/Mul", [s, x]);
    }

    /// <summary>torchvision's densenet121: growth 32, blocks of 6, 12, 24 and 16 layers, each layer BN-ReLU-conv 1x1 to
    /// 128 then BN-ReLU-conv 3x3 to 32 on the concatenation of everything before it in the block (torch.cat of the
    /// list: one Concat per layer), transitions BN-ReLU-conv 1x1 halving the width and a 2x2 average pool, and a last
    /// BN and ReLU before the pool.</summary>
    private static string DenseNet121(Writer f)
    {
        var x = f.B.Relu(f.ConvBn(Input, "/features/conv0", 3, f.W(64), 7, stride: 2, pad: 3), "/features/relu0/Relu");
        x = f.B.Pool("MaxPool", x, 3, 2, pad: 1, name: "/features/pool0/MaxPool");
        int channels = f.W(64), growth = f.W(32), bottleneck = f.W(128);
        int[] blocks = [6, 12, 24, 16];
        for (int block = 1; block <= blocks.Length; block++)
        {
            var features = new List<string> { x };
            for (int layer = 1; layer <= blocks[block - 1]; layer++)
            {
                string m = $"/features/denseblock{block}/denselayer{layer}";
                int inChannels = channels + growth * (layer - 1);
                var y = f.B.Relu(f.B.BatchNorm(f.B.Concat(features, m + "/Concat"), inChannels, m + "/norm1/BatchNormalization"), m + "/relu1/Relu");
                y = f.B.Relu(f.ConvBn(y, m + "/conv1", inChannels, bottleneck, 1), m + "/relu2/Relu");
                features.Add(f.B.Conv(y, bottleneck, growth, 3, pad: 1, bias: false, name: m + "/conv2/Conv"));
            }
            x = f.B.Concat(features, $"/features/denseblock{block}/Concat");
            channels += growth * blocks[block - 1];
            if (block < blocks.Length)
            {
                string m = $"/features/transition{block}";
                x = f.B.Relu(f.B.BatchNorm(x, channels, m + "/norm/BatchNormalization"), m + "/relu/Relu");
                x = f.B.Conv(x, channels, channels / 2, 1, bias: false, name: m + "/conv/Conv");
                x = f.B.Pool("AveragePool", x, 2, 2, name: m + "/pool/AveragePool");
                channels /= 2;
            }
        }
        x = f.B.Relu(f.B.BatchNorm(x, channels, "/features/norm5/BatchNormalization"), "/Relu");
        return f.Classifier(x, channels, "/classifier/Gemm");
    }

    /// <summary>torchvision's squeezenet1_1: an unpadded 3x3 stem, max pools with ceil_mode, eight fire modules
    /// (squeeze 1x1, expand 1x1 and 3x3 concatenated), no BN, and a 1x1 conv to the classes, ReLU and average pool as
    /// the classifier.</summary>
    private static string SqueezeNet11(Writer f)
    {
        int at = 2, inChannels = f.W(64);
        var x = f.B.Relu(f.B.Conv(Input, 3, inChannels, 3, stride: 2, name: "/features/features.0/Conv"), "/features/features.1/Relu");
        string Pool(string v) => f.B.Pool("MaxPool", v, 3, 2, name: $"/features/features.{at++}/MaxPool", extra: Int("ceil_mode", 1));
        x = Pool(x);
        foreach (var (squeezeWidth, expandWidth) in new[] { (16, 64), (16, 64), (0, 0), (32, 128), (32, 128), (0, 0), (48, 192), (48, 192), (64, 256), (64, 256) })
        {
            if (squeezeWidth == 0)
            {
                x = Pool(x);
                continue;
            }
            string m = $"/features/features.{at++}";
            int squeeze = f.W(squeezeWidth), expand = f.W(expandWidth);
            var s = f.B.Relu(f.B.Conv(x, inChannels, squeeze, 1, name: m + "/squeeze/Conv"), m + "/squeeze_activation/Relu");
            x = f.B.Concat([f.B.Relu(f.B.Conv(s, squeeze, expand, 1, name: m + "/expand1x1/Conv"), m + "/expand1x1_activation/Relu"),
                f.B.Relu(f.B.Conv(s, squeeze, expand, 3, pad: 1, name: m + "/expand3x3/Conv"), m + "/expand3x3_activation/Relu")], m + "/Concat");
            inChannels = 2 * expand;
        }
        x = f.B.Relu(f.B.Conv(x, inChannels, Classes, 1, name: "/classifier/classifier.1/Conv"), "/classifier/classifier.2/Relu");
        return f.B.Node("Flatten", "/Flatten", [f.B.Node("GlobalAveragePool", "/classifier/classifier.3/GlobalAveragePool", [x])], Int("axis", 1));
    }

    /// <summary>torchvision's googlenet: BasicConv2d (conv, BN with epsilon 0.001, ReLU), max pools with ceil_mode,
    /// nine inception modules (1x1; 1x1 then 3x3; 1x1 then 3x3, torchvision's kernel for the "5x5" branch; a 3x3
    /// stride-1 max pool then 1x1) concatenated.</summary>
    private static string GoogLeNet(Writer f)
    {
        string Basic(string v, string m, int inChannels, int outChannels, int k, int stride = 1)
            => f.B.Relu(f.ConvBn(v, m + "/conv", inChannels, outChannels, k, stride: stride, epsilon: 1e-3f), m + "/Relu");
        string Pool(string v, string m, int k) => f.B.Pool("MaxPool", v, k, 2, name: m + "/MaxPool", extra: Int("ceil_mode", 1));

        var x = Pool(Basic(Input, "/conv1", 3, f.W(64), 7, stride: 2), "/maxpool1", 3);
        x = Pool(Basic(Basic(x, "/conv2", f.W(64), f.W(64), 1), "/conv3", f.W(64), f.W(192), 3), "/maxpool2", 3);
        int inChannels = f.W(192);
        foreach (var (name, w1, w3r, w3, w5r, w5, wp) in new[]
        {
            ("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64),
            ("4a", 192, 96, 208, 16, 48, 64), ("4b", 160, 112, 224, 24, 64, 64), ("4c", 128, 128, 256, 24, 64, 64),
            ("4d", 112, 144, 288, 32, 64, 64), ("4e", 256, 160, 320, 32, 128, 128),
            ("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128),
        })
        {
            if (name == "4a")
                x = Pool(x, "/maxpool3", 3);
            if (name == "5a")
                x = Pool(x, "/maxpool4", 2);
            string m = $"/inception{name}";
            int c1 = f.W(w1), c3r = f.W(w3r), c3 = f.W(w3), c5r = f.W(w5r), c5 = f.W(w5), proj = f.W(wp);
            var pooled = f.B.Pool("MaxPool", x, 3, 1, pad: 1, name: m + "/branch4/branch4.0/MaxPool", extra: Int("ceil_mode", 1));
            x = f.B.Concat(
            [
                Basic(x, m + "/branch1", inChannels, c1, 1),
                Basic(Basic(x, m + "/branch2/branch2.0", inChannels, c3r, 1), m + "/branch2/branch2.1", c3r, c3, 3),
                Basic(Basic(x, m + "/branch3/branch3.0", inChannels, c5r, 1), m + "/branch3/branch3.1", c5r, c5, 3),
                Basic(pooled, m + "/branch4/branch4.1", inChannels, proj, 1),
            ], m + "/Concat");
            inChannels = c1 + c3 + c5 + proj;
        }
        return f.Classifier(x, inChannels, "/fc/Gemm");
    }

    /// <summary>torchvision's regnet_x_400mf: a 32-wide stem, four stages of 1, 2, 7 and 12 X blocks at widths 32, 64,
    /// 160 and 400 (from depth 22, w0 24, wa 24.48, wm 2.54, group width 16), each block 1x1, grouped 3x3 (16 channels
    /// a group) with the stage's stride, 1x1, plus the input (projected by a strided 1x1 conv where its shape changes),
    /// then ReLU.</summary>
    private static string RegNetX400MF(Writer f)
    {
        int inChannels = f.W(32, GroupWidth);
        var x = f.B.Relu(f.ConvBn(Input, "/stem/stem.0", 3, inChannels, 3, stride: 2), "/stem/stem.2/Relu");
        foreach (var (stage, stageWidth, depth) in new[] { (1, 32, 1), (2, 64, 2), (3, 160, 7), (4, 400, 12) })
            for (int i = 0; i < depth; i++)
            {
                int width = f.W(stageWidth, GroupWidth);
                string m = $"/trunk_output/block{stage}/block{stage}-{i}";
                int stride = i == 0 ? 2 : 1;
                var y = f.B.Relu(f.ConvBn(x, m + "/f/a", inChannels, width, 1), m + "/f/a/Relu");
                y = f.B.Relu(f.ConvBn(y, m + "/f/b", width, width, 3, stride: stride, groups: width / GroupWidth), m + "/f/b/Relu");
                y = f.ConvBn(y, m + "/f/c", width, width, 1, gain: ResidualGain);
                var shortcut = inChannels != width || stride != 1 ? f.ConvBn(x, m + "/proj", inChannels, width, 1, stride: stride) : x;
                x = f.B.Relu(f.B.Node("Add", m + "/Add", [shortcut, y]), m + "/activation/Relu");
                inChannels = width;
            }
        return f.Classifier(x, inChannels, "/fc/Gemm");
    }

    /// <summary>torchvision's _make_divisible: the nearest multiple of <paramref name="divisor"/>, at least the divisor,
    /// not below 90% of the value.</summary>
    private static int MakeDivisible(double value, int divisor)
    {
        int rounded = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * value ? rounded + divisor : rounded;
    }

    /// <summary>The builder with the way this model writes a conv's BatchNorm, and its width multiplier.</summary>
    private sealed class Writer(OnnxModelBuilder b, bool foldBatchNorm, double width)
    {
        public OnnxModelBuilder B { get; } = b;

        /// <summary>A torchvision width times the multiplier, as a multiple of <paramref name="divisor"/>.</summary>
        public int W(int channels, int divisor = 8) => MakeDivisible(channels * width, divisor);

        /// <summary>A conv without bias and its BatchNormalization, or with the BN folded in, the conv with a bias;
        /// pad defaults to (k - 1) / 2.</summary>
        public string ConvBn(string x, string module, int inChannels, int outChannels, int kernel, int stride = 1, int? pad = null,
            int groups = 1, float epsilon = 1e-5f, double gain = 1)
        {
            var conv = B.Conv(x, inChannels, outChannels, kernel, stride, pad ?? (kernel - 1) / 2, bias: foldBatchNorm, name: module + "/Conv",
                groups: groups, gain: foldBatchNorm ? gain : 1);
            return foldBatchNorm ? conv : B.BatchNorm(conv, outChannels, module + "/BatchNormalization", epsilon, gain: gain);
        }

        /// <summary>ReLU6, which the exporter writes as Clip to [0, 6].</summary>
        public string Relu6(string x, string module) => B.Clip(x, 0, 6, module + "/Clip");

        /// <summary>adaptive_avg_pool2d to 1x1 (GlobalAveragePool), torch.flatten(x, 1) and the Linear layer.</summary>
        public string Classifier(string x, int features, string name)
        {
            x = B.Node("Flatten", "/Flatten", [B.Node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [x])], Int("axis", 1));
            return B.Gemm(x, features, Classes, transB: true, name: name);
        }
    }
}
