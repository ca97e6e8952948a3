using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>An imported model computes what ONNX Runtime computes on the original file, as compressed-aware blocks
/// (SVD-initialised from the weights) and as plain layers.</summary>
public class OnnxImportEqualityTests(ITestOutputHelper output)
{
    private const int Images = 64;

    public static TheoryData<string, bool> Models => new()
    {
        { "vgg-opset13", true }, { "vgg-opset13", false },
        { "lenet-opset7-ir3", true }, { "lenet-opset7-ir3", false },
        { "resnet-opset11", true }, { "resnet-opset11", false },
        { "torch-view-opset9", true }, { "torch-view-opset9", false },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ImportedNetworkMatchesOnnxRuntimeOnFashionMnist(string name, bool compressed)
    {
        var model = OnnxTestModels.All.Single(m => m.Name == name);
        var pixels = TestData.Test.Take(Images).SelectMany(i => i.Features).ToArray();
        var expected = OnnxRuntimeLogits(model, pixels);
        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compressed, excludeFirstAndLast: false);

        float[] actual;
        using (var scope = NewDisposeScope())
        {
            using var net = new EdpNet(graph, EdpCoefficientInit.Identity);
            Assert.All(net.Weighted.Values, w => Assert.Equal(compressed, w.weight is CompressedWeight));
            net.eval();
            using var _ = no_grad();
            actual = net.forward(tensor(pixels, [Images, 1, 28, 28])).data<float>().ToArray();
        }

        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{name}, {(compressed ? "compressed-aware blocks" : "plain layers")}: max |logit difference| {worst:E2} over {actual.Length} logits (largest |logit| {expected.Max(Math.Abs):F2}).");
        Assert.InRange(worst, 0, 1e-4);
        // The logits differ between images, so equality is not met by a constant output.
        Assert.True(expected.Distinct().Count() > Images);
    }

    /// <summary>A model EDP itself exported (BN folded, probabilities and the predicted class as extra outputs) imports
    /// back: a ResNet-20 with its residual sums computes what ONNX Runtime computes on the file.</summary>
    [Fact]
    public void ModelExportedByEdpImportsBack()
    {
        var options = new EdpCompressOptions { Architecture = EdpArchitecture.ResNet20, Compress = false };
        byte[] onnx;
        using (var original = new EdpNet(Architectures.Build(TestData.Settings(options).Network, 10)))
        {
            original.eval();
            onnx = OnnxModelWriter.Write(PruneAndMerge.Apply(original, PruningPlanner.Plan(original, new PruningSettings(0, options.ChannelGroup))), new Dictionary<string, string>());
        }
        var model = new OnnxTestModels.Model("edp-resnet20", onnx, OnnxNames.Logits);

        var net = OnnxGraphImporter.Import(onnx, model.Name, (1, 28, 28));

        Assert.Equal(9, net.Layers.OfType<AddLayer>().Count());
        Assert.Empty(net.Layers.OfType<BatchNormLayer>());
        var pixels = TestData.Test.Take(Images).SelectMany(i => i.Features).ToArray();
        var expected = OnnxRuntimeLogits(model, pixels, OnnxNames.Input);
        using var scope = NewDisposeScope();
        using var imported = new EdpNet(ImportedHead.Fit(net, 10, compress: true, excludeFirstAndLast: false));
        imported.eval();
        using var _ = no_grad();
        var actual = imported.forward(tensor(pixels, [Images, 1, 28, 28])).data<float>().ToArray();
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"EDP-exported ResNet-20 imported as compressed-aware blocks: max |logit difference| {worst:E2} (largest |logit| {expected.Max(Math.Abs):F2}).");
        Assert.InRange(worst, 0, 1e-4);
    }

    /// <summary>Logits from ONNX Runtime on the original file (with the pre-Softmax value added as an output), in
    /// batches the model's fixed batch size allows.</summary>
    private static float[] OnnxRuntimeLogits(OnnxTestModels.Model model, float[] pixels, string input = OnnxModelBuilder.Input)
    {
        using var session = new InferenceSession(OnnxModelBuilder.WithOutput(model.Bytes, model.Logits));
        int batch = (int)(model.FixedBatch ?? Images);
        var logits = new List<float>();
        for (int start = 0; start < Images; start += batch)
        {
            var tensor = new OnnxRuntime.Tensors.DenseTensor<float>(pixels.AsMemory(start * 784, batch * 784), [batch, 1, 28, 28]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, tensor)], [model.Logits]);
            logits.AddRange(results.First().AsEnumerable<float>());
        }
        return [.. logits];
    }
}
