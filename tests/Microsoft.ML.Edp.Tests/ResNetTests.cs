using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

public class ResNetTests(TrainedNetFixture fixture, ITestOutputHelper output) : IClassFixture<TrainedNetFixture>
{
    private static EdpCompressOptions Options(EdpArchitecture architecture = EdpArchitecture.ResNet20, bool compress = true) => new()
    {
        Architecture = architecture, Compress = compress, Epochs = 2, BatchSize = 32, NumberOfThreads = 2, Seed = 1,
        TargetMacsRatio = null, RankPenalty = 0.4, ChannelPenalty = 0.4, PenaltyHoldFraction = 0.7, PruneThreshold = 0, ChannelGroup = EdpChannelGroup.BatchNorm,
        ResNetWidths = [8, 8, 16, 32],
    };

    [Theory]
    [InlineData(EdpArchitecture.ResNet20, 19, 2)]
    [InlineData(EdpArchitecture.ResNet56, 55, 2)]
    public void ResNetHasItsDepthAndTheCostModelCountsEveryParameter(EdpArchitecture architecture, int convs, int projections)
    {
        using var net = new EdpNet(Architectures.Build(TestData.Settings(new EdpCompressOptions { Architecture = architecture, Compress = false }).Network, 10));
        var graph = net.Graph;
        Assert.Equal(convs + projections, graph.Layers.OfType<ConvLayer>().Count());
        Assert.Equal(projections, graph.Layers.OfType<ConvLayer>().Count(c => c.Kernel == 1));
        using var logits = net.forward(randn(3, 1, 28, 28));
        Assert.Equal(new long[] { 3, 10 }, logits.shape);
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.BatchNorm));
        Assert.Equal(net.parameters().Sum(p => p.numel()), plans.Sum(p => p.Before.Params));
    }

    [Fact]
    public void OnlyChannelsInsideABlockArePrunable()
    {
        var graph = Architectures.Build(TestData.Settings(new EdpCompressOptions { Architecture = EdpArchitecture.ResNet20 }).Network, 10);
        var couplings = ChannelCoupling.Analyse(graph);
        var prunable = couplings.Where(c => c.Prunable).Select(c => c.Layer.Name).ToList();
        Assert.Equal(9, prunable.Count);
        Assert.All(prunable, name => Assert.EndsWith("_conv1", name));
        var first = couplings.Single(c => c.Layer.Name == "s1b1_conv1");
        Assert.Equal(["s1b1_conv2"], first.Consumers.Select(c => c.Name));
        Assert.Equal("s1b1_conv1_bn", first.Norm!.Name);
        // The stem feeds a residual sum as well as a conv: its channels are coupled across the stage.
        Assert.False(couplings.Single(c => c.Layer.Name == "stem").Prunable);
    }

    [Fact]
    public void TrainedResNetPrunesInsideBlocksAndReproducesItsOutputsInOnnx()
    {
        using var net = TrainedNetFixture.Train(Options());
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.BatchNorm));
        foreach (var p in plans)
            output.WriteLine($"{p.Name}: in {p.KeptInputs.Length} out {p.KeptOutputs.Length} rank {p.KeptRank?.Length} merged {p.Merged}");
        Assert.Contains(plans, p => p.Name.EndsWith("_conv1") && p.KeptOutputs.Length < p.OriginalShape[0]);
        Assert.Contains(plans, p => p.KeptRank is { } r && r.Length < Math.Min(p.OriginalShape[0], p.OriginalShape.Skip(1).Aggregate(1L, (a, b) => a * b)));
        Assert.All(plans.Where(p => !p.Name.EndsWith("_conv1")), p => Assert.Equal(p.OriginalShape[0], p.KeptOutputs.Length));

        var graph = PruneAndMerge.Apply(net, plans);
        Assert.Contains(graph.Layers, l => l is AddLayer);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var expected = net.forward(fixture.TestImages);
        var reference = ReferenceRunner.Logits(graph, fixture.TestImages);
        double accuracy = reference.argmax(1).eq(fixture.TestLabels).to(ScalarType.Float32).mean().item<float>();
        using var scorer = new OnnxScorer(OnnxModelWriter.Write(graph, new Dictionary<string, string>()));
        var ort = scorer.Logits(fixture.TestImages.data<float>().ToArray(), TrainedNetFixture.CheckImages, 1, 28, 28);
        double pruneDiff = (expected - reference).abs().max().item<float>();
        double onnxDiff = ort.Zip(reference.data<float>().ToArray(), (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"accuracy {accuracy:P1}, max |trained - pruned| {pruneDiff:G3}, max |ORT - TorchSharp| {onnxDiff:G3}");
        Assert.True(accuracy >= 0.5, $"the pruned ResNet must still classify (accuracy {accuracy:P1}), or exactness proves nothing");
        Assert.True(pruneDiff <= 1e-4, $"max abs logit difference after PM {pruneDiff}");
        Assert.True(onnxDiff <= 1e-4, $"max abs ONNX Runtime difference {onnxDiff}");
    }
}
