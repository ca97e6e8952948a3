using System.Reflection;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>ML.NET's own pretrained ResNet18 (the ResNet18.onnx of the Microsoft.ML.DnnImageFeaturizer.ResNet18
/// package: CNTK's export at IR 3, opset 8, with pads [3, 3, 2, 2] on its first conv, [1, 1, 0, 0] on its max pool and
/// a 7x7 average pool over the last map) imports and computes the file's 512 features.</summary>
public class PretrainedResNet18Tests(ITestOutputHelper output)
{
    private const int Images = 3, Side = 224;

    internal static string ModelPath => typeof(PretrainedResNet18Tests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ResNet18Onnx").Value!;

    [Fact]
    public void FeaturesEqualOnnxRuntimeOnTheRealModel()
    {
        Assert.True(File.Exists(ModelPath), $"The package restore should have put ResNet18.onnx at '{ModelPath}'.");
        var bytes = File.ReadAllBytes(ModelPath);
        var net = OnnxGraphImporter.Import(bytes, $"'{ModelPath}'", (3, Side, Side));

        Assert.Equal(22, net.Layers.OfType<ConvLayer>().Count());
        Assert.Equal([512L], net.OutputShape);
        Assert.IsType<GlobalPoolLayer>(net.Layers[^1]);

        // Pixel-like values around the BGR means the featurizer's preprocessing subtracts.
        var rng = new Random(7);
        var pixels = Enumerable.Range(0, Images * 3 * Side * Side).Select(_ => (float)(rng.NextDouble() * 255 - 120)).ToArray();
        var expected = new List<float>();
        using (var session = new InferenceSession(bytes))
        {
            string input = session.InputMetadata.Keys.Single();
            for (int i = 0; i < Images; i++)
            {
                var image = new OnnxRuntime.Tensors.DenseTensor<float>(pixels.AsMemory(i * 3 * Side * Side, 3 * Side * Side), [1, 3, Side, Side]);
                using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, image)]);
                expected.AddRange(results.First().AsEnumerable<float>());
            }
        }

        var graph = new NetworkGraph(3, Side, Side, net.Layers, net.Output, 512);
        foreach (bool compressed in new[] { false, true })
        {
            float[] actual;
            using (var scope = NewDisposeScope())
            {
                var layers = graph.Layers.Select(l => l is ConvLayer c ? c with { Compressed = compressed } : l).ToList();
                using var model = new EdpNet(graph with { Layers = layers });
                model.eval();
                using var _ = no_grad();
                actual = model.forward(tensor(pixels, [Images, 3, Side, Side])).data<float>().ToArray();
            }
            Assert.Equal(expected.Count, actual.Length);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            output.WriteLine($"ML.NET ResNet18, {(compressed ? "compressed-aware blocks" : "plain layers")}: max |feature difference| {worst:E2} over {actual.Length} features (largest {expected.Max(Math.Abs):F2}).");
            Assert.InRange(worst, 0, 1e-4);
        }
        Assert.True(expected.Distinct().Count() > 512);
    }

    /// <summary>Read at 64x64, as a CPU fine-tune would use it, its last average (7x7 in the file) is a global pool
    /// over the 2x2 map, and a classifier head fits on the 512 features.</summary>
    [Fact]
    public void ImportsAtASmallerImageSize()
    {
        var net = OnnxGraphImporter.Import(File.ReadAllBytes(ModelPath), "ResNet18.onnx", (3, 64, 64));
        var graph = ImportedHead.Fit(net, 10, compress: true, excludeFirstAndLast: true);
        var shapes = graph.Shapes();
        Assert.Equal([512L, 2, 2], shapes[graph.Layers.OfType<GlobalPoolLayer>().Single().Input]);
        Assert.Equal(512, graph.Layers.OfType<LinearLayer>().Single().InFeatures);
        Assert.Equal([10L], shapes[graph.Output]);
    }
}
