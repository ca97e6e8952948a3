using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Onnx;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

public class OnnxImportTests
{
    private static ImportedNetwork Import(OnnxTestModels.Model m) => OnnxGraphImporter.Import(m.Bytes, m.Name, (1, 28, 28));

    [Fact]
    public void VggAtOpset13BecomesConvBnReluLayersWithTheFileWeights()
    {
        var model = OnnxTestModels.Vgg13();
        var net = Import(model);

        Assert.Equal(
            ["Conv", "BatchNorm", "Relu", "Conv", "BatchNorm", "Relu", "Pool", "Conv", "BatchNorm", "Relu", "Pool", "Conv", "Relu", "GlobalPool", "Linear"],
            net.Layers.Select(l => l.GetType().Name.Replace("Layer", "")));
        Assert.All(net.Layers, l => Assert.Matches("^[A-Za-z0-9_]+$", l.Name));
        Assert.Equal(net.Layers.Count, net.Layers.Select(l => l.Name).Distinct().Count());
        Assert.Equal("features_0_Conv", net.Layers[0].Name);
        Assert.Equal([10L], net.OutputShape);
        Assert.Equal("classifier_fc", net.Output);

        var conv = Assert.IsType<ConvLayer>(net.Layers[0]);
        Assert.Equal((1, 8, 3, 1, 1, true), (conv.InChannels, conv.OutChannels, conv.Kernel, conv.Stride, conv.Padding, conv.HasBias));
        Assert.Equal(Initializer(model, "/features/0/Conv.weight"), conv.Weight!.Values);
        Assert.Equal([8L, 1, 3, 3], conv.Weight.Shape);
        Assert.False(Assert.IsType<ConvLayer>(net.Layers[3]).HasBias);
        var bn = Assert.IsType<BatchNormLayer>(net.Layers[1]);
        Assert.Equal(Initializer(model, "/features/1/BatchNormalization.var"), bn.Variance!.Values);
        Assert.Equal(1e-5, bn.Epsilon, 1e-9);
        Assert.Null(Assert.IsType<ReluLayer>(net.Layers[2]).Max);
        Assert.Equal(6f, Assert.IsType<ReluLayer>(net.Layers[5]).Max);
        Assert.True(Assert.IsType<PoolLayer>(net.Layers[6]) is { IsMax: true, Kernel: 2, Stride: 2, Padding: 0 });
        // transB 1 stores the weight as [out, in], the layer's own layout.
        var fc = Assert.IsType<LinearLayer>(net.Layers[^1]);
        Assert.Equal(Initializer(model, "/classifier/fc.weight"), fc.Weight!.Values);
        Assert.Equal(Initializer(model, "/classifier/fc.bias"), fc.Bias!.Values);
    }

    [Fact]
    public void OldOpset7ModelFusesMatMulAndAddAndPassesDropoutAndIdentityThrough()
    {
        var model = OnnxTestModels.Old7();
        var net = Import(model);

        Assert.Equal(
            ["Conv", "BatchNorm", "Relu", "Pool", "Conv", "Relu", "Pool", "Flatten", "Linear", "Relu", "Linear"],
            net.Layers.Select(l => l.GetType().Name.Replace("Layer", "")));
        Assert.Equal(1e-3, Assert.IsType<BatchNormLayer>(net.Layers[1]).Epsilon, 1e-9);
        Assert.Equal(6f, Assert.IsType<ReluLayer>(net.Layers[2]).Max);
        Assert.True(Assert.IsType<PoolLayer>(net.Layers[6]) is { IsMax: false, Kernel: 3, Stride: 3, Padding: 1 });
        // MatMul's weight is [in, out]; the layer holds [out, in], and the Add's constant became its bias.
        var fc1 = Assert.IsType<LinearLayer>(net.Layers[8]);
        Assert.Equal((192, 32), (fc1.InFeatures, fc1.OutFeatures));
        var w = Initializer(model, "fc1.weight");
        Assert.Equal(w[5 * 32 + 7], fc1.Weight!.Values[7 * 192 + 5]);
        Assert.Equal(Initializer(model, "fc1.bias"), fc1.Bias!.Values);
        Assert.Equal(net.Layers[^1].Name, net.Output);
    }

    [Fact]
    public void ResidualModelKeepsBothSumsAndTheProjectionShortcut()
    {
        var model = OnnxTestModels.Residual11();
        var net = Import(model);

        var adds = net.Layers.OfType<AddLayer>().ToList();
        Assert.Equal(2, adds.Count);
        var byName = net.Layers.ToDictionary(l => l.Name);
        // The second sum joins the block's last BN and the shortcut's BN, which reads the 1x1 stride-2 conv.
        var shortcut = Assert.IsType<BatchNormLayer>(byName[adds[1].Right]);
        Assert.True(Assert.IsType<ConvLayer>(byName[shortcut.Input]) is { Kernel: 1, Stride: 2, InChannels: 8, OutChannels: 16 });
        Assert.Equal(6f, net.Layers.OfType<ReluLayer>().Single(r => r.Max is not null).Max);
        Assert.Single(net.Layers.OfType<GlobalPoolLayer>());
        // transB 0 stores [in, out]; the layer holds it transposed.
        var fc = Assert.IsType<LinearLayer>(net.Layers[^1]);
        var w = Initializer(model, "/fc/Gemm.weight");
        Assert.Equal(w[3 * 10 + 9], fc.Weight!.Values[9 * 16 + 3]);
        Assert.Equal(6, net.Layers.OfType<ConvLayer>().Count());
        Assert.Equal(6, net.Layers.OfType<BatchNormLayer>().Count());
    }

    [Fact]
    public void ShapeArithmeticOfAnOldPyTorchViewBecomesOneFlatten()
    {
        var net = Import(OnnxTestModels.TorchView9());

        Assert.Equal(
            ["Conv", "BatchNorm", "Relu", "Pool", "Conv", "Relu", "Flatten", "Linear"],
            net.Layers.Select(l => l.GetType().Name.Replace("Layer", "")));
        // PyTorch's numeric node names become identifiers.
        Assert.Equal(["n0", "n1", "n2", "n3", "n4", "n5", "n11", "n12"], net.Layers.Select(l => l.Name));
        Assert.Equal(300, Assert.IsType<LinearLayer>(net.Layers[^1]).InFeatures);
    }

    [Fact]
    public void HeadIsKeptForTheSameClassCountAndReplacedForAnother()
    {
        var net = Import(OnnxTestModels.Vgg13());

        var same = ImportedHead.Fit(net, 10, compress: true, excludeFirstAndLast: false);
        Assert.NotNull(Assert.IsType<LinearLayer>(same.Layers[^1]).Weight);
        Assert.All(same.Layers.OfType<ConvLayer>(), c => Assert.True(c.Compressed));

        var five = ImportedHead.Fit(net, 5, compress: true, excludeFirstAndLast: true);
        var head = Assert.IsType<LinearLayer>(five.Layers[^1]);
        Assert.Equal((16, 5, "classifier_fc"), (head.InFeatures, head.OutFeatures, head.Name));
        Assert.Null(head.Weight);
        Assert.False(head.Compressed);
        Assert.False(five.Layers.OfType<ConvLayer>().First().Compressed);
        Assert.All(five.Layers.OfType<ConvLayer>().Skip(1), c => Assert.True(c.Compressed));
        Assert.Equal(5, five.Shapes()[five.Output][0]);

        var plain = ImportedHead.Fit(net, 10, compress: false, excludeFirstAndLast: false);
        Assert.All(plain.Layers.OfType<ConvLayer>(), c => Assert.False(c.Compressed));
        Assert.False(Assert.IsType<LinearLayer>(plain.Layers[^1]).Compressed);
    }

    [Fact]
    public void ModelEndingInAFeatureMapGetsAGlobalPoolAndANewClassifier()
    {
        var b = new OnnxModelBuilder(opset: 13, irVersion: 8, seed: 4);
        var x = b.Relu(b.BatchNorm(b.Conv(OnnxModelBuilder.Input, 1, 8, 3, stride: 2), 8));
        var bytes = b.Build(x, 8, 13, 13);

        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(bytes, "features"), 3, compress: true, excludeFirstAndLast: false);

        Assert.Equal(["Conv", "BatchNorm", "Relu", "GlobalPool", "Linear"], graph.Layers.Select(l => l.GetType().Name.Replace("Layer", "")));
        var head = Assert.IsType<LinearLayer>(graph.Layers[^1]);
        Assert.Equal((8, 3, true, "head_classifier"), (head.InFeatures, head.OutFeatures, head.Compressed, head.Name));
        Assert.Equal([3L], graph.Shapes()[graph.Output]);
    }

    /// <summary>The internal rewrite (the pretrained benchmark's random-weight runs) sees the graph with its head fitted,
    /// and what it returns is the network; the checkpoint fingerprint, which leaves the delegate out, differs where the
    /// rewrite changes what the layers' descriptions hold (here, plain layers instead of compressed-aware blocks).</summary>
    [Fact]
    public void TheImportedRewriteSeesTheFittedHeadAndItsResultIsTheNetwork()
    {
        NetworkGraph? seen = null;
        var options = new EdpCompressOptions { OnnxModel = OnnxTestModels.Vgg13().Bytes, ImageChannels = 1, ImageHeight = 28, ImageWidth = 28 };
        var imported = OnnxNetworkSource.Load(EdpSettings.From(options).Network, 10);
        options.ImportedNetworkRewrite = g =>
        {
            seen = g;
            return g with { Layers = g.Layers.Select(l => l is ConvLayer c ? c with { Weight = null, Bias = null, HasBias = true, Compressed = false } : l).ToList() };
        };
        var settings = EdpSettings.From(options);
        var rewritten = OnnxNetworkSource.Load(settings.Network, 10);

        Assert.NotNull(seen);
        Assert.Equal(imported.Layers.Select(l => l.Name), seen!.Layers.Select(l => l.Name));
        Assert.Equal(10, Assert.IsType<LinearLayer>(seen.Layers.Single(l => l.Name == seen.Output)).OutFeatures);
        Assert.All(imported.Layers.OfType<ConvLayer>(), c => Assert.NotNull(c.Weight));
        Assert.All(rewritten.Layers.OfType<ConvLayer>(), c => Assert.Null(c.Weight));
        Assert.Contains(imported.Layers.OfType<ConvLayer>(), c => c.Compressed);
        Assert.NotEqual(Training.TrainingCheckpoints.Fingerprint(settings, imported, 100), Training.TrainingCheckpoints.Fingerprint(settings, rewritten, 100));
    }

    /// <summary>A model is read at the options' image size: one that pools globally works at any size, one whose
    /// linear layer needs the file's size fails there, saying which size it was read at; the channels must agree.</summary>
    [Fact]
    public void ModelIsReadAtTheOptionsImageSize()
    {
        var graph = OnnxNetworkSource.Load(EdpSettings.From(new EdpCompressOptions { OnnxModel = OnnxTestModels.Vgg13().Bytes, ImageChannels = 1, ImageHeight = 32, ImageWidth = 40 }).Network, 10);
        Assert.Equal((32, 40), (graph.Height, graph.Width));
        Assert.Equal([10L], graph.Shapes()[graph.Output]);

        var e = Assert.Throws<EdpOnnxImportException>(() => OnnxNetworkSource.Load(EdpSettings.From(new EdpCompressOptions { OnnxModel = OnnxTestModels.TorchView9().Bytes, ImageChannels = 1, ImageHeight = 32, ImageWidth = 32 }).Network, 10));
        Assert.Equal(("12", "Gemm"), (e.NodeName, e.OpType));
        Assert.Contains("read at 32x32, its input being [N, 1, 28, 28]", e.Message);

        var channels = Assert.Throws<EdpOnnxImportException>(() => OnnxNetworkSource.Load(EdpSettings.From(new EdpCompressOptions { OnnxModel = OnnxTestModels.Vgg13().Bytes, ImageChannels = 3, ImageHeight = 28, ImageWidth = 28 }).Network, 10));
        Assert.Contains("channels 1", channels.Message);
        Assert.Contains("channels 3", channels.Message);
        Assert.Contains("OnnxModel", channels.Message);
        Assert.Null(channels.NodeName);
    }

    [Fact]
    public void UnsupportedModelFailsWhenTheEstimatorIsCreated()
    {
        var b = new OnnxModelBuilder(opset: 13, irVersion: 8, seed: 7);
        var bytes = b.Build(b.Node("Conv", "dilated", [OnnxModelBuilder.Input, b.Weights("w", [2, 1, 3, 3], 0.1)], OnnxModelBuilder.Int("group", 1), OnnxModelBuilder.Ints("dilations", 3, 3)));

        var e = Assert.Throws<EdpOnnxImportException>(() => new MLContext().Transforms.CompressEdp(new EdpCompressOptions { OnnxModel = bytes }));

        Assert.Equal(("dilated", "Conv"), (e.NodeName, e.OpType));
        Assert.Contains("dilation 3", e.Message);
    }

    [Fact]
    public void ModelPathLoadsFromAFileAndAMissingFileNamesIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edp-import-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, OnnxTestModels.Residual11().Bytes);
        try
        {
            var graph = OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModelPath = path }).Network, 10);
            Assert.Equal(2, graph.Layers.OfType<AddLayer>().Count());
        }
        finally
        {
            File.Delete(path);
        }
        var e = Assert.Throws<FileNotFoundException>(() => OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModelPath = path }).Network, 10));
        Assert.Contains(path, e.Message);
        Assert.Contains("OnnxModelPath", e.Message);

        var both = Assert.Throws<ArgumentException>(() => OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModelPath = path, OnnxModel = [1] }).Network, 10));
        Assert.Contains("not both", both.Message);
    }

    /// <summary>Weights saved as external data (a file beside the model, as <c>onnx.save_model(...,
    /// save_as_external_data=True)</c> writes them) are read from the model's folder, and only from there.</summary>
    [Fact]
    public void ExternalDataBesideTheModelIsRead()
    {
        var folder = Directory.CreateTempSubdirectory("edp-external-").FullName;
        try
        {
            var model = ModelProto.Parser.ParseFrom(OnnxTestModels.Residual11().Bytes);
            using (var weights = File.Create(Path.Combine(folder, "weights.bin")))
                foreach (var t in model.Graph.Initializer.Where(t => t.RawData.Length > 0))
                {
                    t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
                    t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = weights.Position.ToString() });
                    t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString() });
                    t.DataLocation = TensorProto.Types.DataLocation.External;
                    weights.Write(t.RawData.Span);
                    t.RawData = ByteString.Empty;
                }
            var path = Path.Combine(folder, "model.onnx");
            File.WriteAllBytes(path, model.ToByteArray());

            var graph = OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModelPath = path }).Network, 10);
            var fromBytes = OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModel = OnnxTestModels.Residual11().Bytes }).Network, 10);
            Assert.Equal(fromBytes.Layers.OfType<ConvLayer>().Select(c => c.Weight!.Values), graph.Layers.OfType<ConvLayer>().Select(c => c.Weight!.Values));

            // A location outside the model's folder is refused, not read.
            model.Graph.Initializer.First(t => t.ExternalData.Count > 0).ExternalData[0].Value = "../weights.bin";
            File.WriteAllBytes(path, model.ToByteArray());
            var e = Assert.Throws<EdpOnnxImportException>(() => OnnxNetworkSource.Load(TestData.Settings(new EdpCompressOptions { OnnxModelPath = path }).Network, 10));
            Assert.Contains("outside the model's folder", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>An initializer's values as the file stores them.</summary>
    internal static float[] Initializer(OnnxTestModels.Model model, string name)
    {
        var t = ModelProto.Parser.ParseFrom(model.Bytes).Graph.Initializer.Single(i => i.Name == name);
        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
    }
}
