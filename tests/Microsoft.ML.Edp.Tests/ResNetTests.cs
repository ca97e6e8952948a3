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
        ResNetWidths = [8, 8, 16, 32], Decompose = true,
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
    public void EachStageIsOneResidualStreamAndEveryConvIsPrunable()
    {
        var graph = Architectures.Build(TestData.Settings(new EdpCompressOptions { Architecture = EdpArchitecture.ResNet20 }).Network, 10);
        var couplings = ChannelCoupling.Analyse(graph);
        // Only the classifier, whose classes are the output, keeps its width.
        Assert.Equal(["classifier"], couplings.Where(c => !c.Prunable).Select(c => c.Layer.Name));
        var first = couplings.Single(c => c.Layer.Name == "s1b1_conv1");
        Assert.Null(first.Stream);
        Assert.Equal(["s1b1_conv2"], first.Consumers.Select(c => c.Name));
        Assert.Equal("s1b1_conv1_bn", first.Norm!.Name);
        // The stem and the second convs of stage 1 add into one stream, carried on by the identity shortcuts; stage 2
        // starts a new one at its projection shortcut. The members share one group per channel and every reader.
        var stage1 = couplings.Where(c => c.Stream is not null && c.Stream.Members.Any(m => m.Layer.Name == "stem")).ToList();
        Assert.Equal(["stem", "s1b1_conv2", "s1b2_conv2", "s1b3_conv2"], stage1.Select(c => c.Layer.Name));
        Assert.All(stage1, c => Assert.Same(stage1[0].Stream, c.Stream));
        Assert.Equal("stem", stage1[0].Stream!.Owner);
        Assert.Equal(["s1b1_add", "s1b2_add", "s1b3_add"], stage1[0].Stream!.Sums.Order());
        Assert.All(stage1, c => Assert.Equal(["s1b1_conv1", "s1b2_conv1", "s1b3_conv1", "s2b1_conv1", "s2b1_shortcut"], c.Consumers.Select(r => r.Name).Order()));
        var stage2 = couplings.Single(c => c.Layer.Name == "s2b1_shortcut").Stream!;
        Assert.Equal(["s2b1_conv2", "s2b1_shortcut", "s2b2_conv2", "s2b3_conv2"], stage2.Members.Select(m => m.Layer.Name));
        Assert.Equal(["classifier", "s3b2_conv1", "s3b3_conv1"], couplings.Single(c => c.Layer.Name == "s3b3_conv2").Consumers.Select(r => r.Name).Order());
    }

    /// <summary>Every other channel of each residual stream zeroed in all its members (the stem plain, as with
    /// ExcludeFirstAndLast) is removed from every member and every reader at threshold 0, and the outputs stay exact
    /// after surgery and through ONNX, whether the members train as blocks or plain.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AStreamZeroedInEveryMemberNarrowsThemAllAndKeepsOutputsExact(bool decompose)
    {
        var options = Options();
        options.ExcludeFirstAndLast = true;
        options.Decompose = decompose;
        var graph = TestData.Settings(options).Graph(10);
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var net = new EdpNet(graph);
        using (no_grad())
        {
            foreach (var bn in net.Norms.Values)
            {
                bn.weight!.uniform_(0.5, 1.5);
                bn.bias!.uniform_(-0.3, 0.3);
                bn.running_mean!.uniform_(-0.3, 0.3);
                bn.running_var!.uniform_(0.5, 2);
            }
        }
        net.eval();
        var streams = ResidualStream.Of(graph);
        Assert.Equal(3, streams.Count);
        var atZero = new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm);
        var even = streams.ToDictionary(s => s.Owner!, s => GroupSelection.All(s.Members[0].Layer.Outputs).Where(c => c % 2 == 0).ToArray());
        GroupZeroing.Apply(net, PruningPlanner.Plan(net, atZero, even.ToDictionary(e => e.Key, e => new KeptGroups(e.Value, null))));
        var plans = PruningPlanner.Plan(net, atZero).ToDictionary(p => p.Name);

        var couplings = ChannelCoupling.Analyse(graph).ToDictionary(c => c.Layer.Name);
        foreach (var stream in streams)
        {
            var kept = even[stream.Owner!];
            Assert.All(stream.Members, m => Assert.Equal(kept, plans[m.Layer.Name].KeptOutputs));
            Assert.All(couplings[stream.Owner!].Consumers, r => Assert.Equal(kept, plans[r.Name].KeptInputs));
        }
        Assert.Equal(4, plans["stem"].KeptOutputs.Length);
        Assert.Equal(4, plans["s1b1_conv1"].KeptInputs.Length);
        Assert.Equal(16, plans["classifier"].KeptInputs.Length);

        var pruned = PruneAndMerge.Apply(net, [.. plans.Values]);
        var images = randn(6, 1, 28, 28);
        using var noGrad = no_grad();
        var expected = net.forward(images);
        var reference = ReferenceRunner.Logits(pruned, images);
        using var scorer = new OnnxScorer(OnnxModelWriter.Write(pruned, new Dictionary<string, string>()));
        var ort = scorer.Logits(images.data<float>().ToArray(), 6, 1, 28, 28);
        double pruneDiff = (expected - reference).abs().max().item<float>();
        double onnxDiff = ort.Zip(reference.data<float>().ToArray(), (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"max |net - pruned| {pruneDiff:G3}, max |ORT - TorchSharp| {onnxDiff:G3}, logits spread {expected.std().item<float>():G3}");
        Assert.True(expected.std().item<float>() > 1e-3, "the logits must differ, or exactness proves nothing");
        Assert.InRange(pruneDiff, 0, 1e-4);
        Assert.InRange(onnxDiff, 0, 1e-4);
    }

    /// <summary>With <see cref="EdpCompressOptions.PruneResidualStreams"/> off, a channel whose BN is zero in every
    /// member of its stream stays in them all (only their rank may go), while a conv inside a block still loses such a
    /// channel; with it on (the default), the stream loses it too.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AStreamLosesZeroChannelsOnlyWhenStreamsArePrunable(bool pruneStreams)
    {
        var options = Options();
        options.PruneResidualStreams = pruneStreams;
        var graph = TestData.Settings(options).Graph(10);
        using var net = new EdpNet(graph);
        var members = ResidualStream.Of(graph).SelectMany(s => s.Members).ToList();
        Assert.Equal(12, members.Count);
        using (no_grad())
        {
            foreach (var norm in members.Select(m => m.Norm!.Name).Append("s1b1_conv1_bn"))
            {
                var bn = net.Norms[norm];
                for (int c = 0; c < bn.weight!.shape[0]; c += 2)
                {
                    bn.weight[c] = 0;
                    bn.bias![c] = 0;
                }
            }
        }
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.BatchNorm)).ToDictionary(p => p.Name);
        Assert.Equal(4, plans["s1b1_conv1"].KeptOutputs.Length);
        Assert.All(members, m => Assert.Equal(pruneStreams ? m.Layer.Outputs / 2 : m.Layer.Outputs, plans[m.Layer.Name].KeptOutputs.Length));
    }

    [Fact]
    public void TrainedResNetPrunesBlocksAndStreamsAndReproducesItsOutputsInOnnx()
    {
        using var net = TrainedNetFixture.Train(Options());
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.BatchNorm));
        foreach (var p in plans)
            output.WriteLine($"{p.Name}: in {p.KeptInputs.Length} out {p.KeptOutputs.Length} rank {p.KeptRank?.Length} merged {p.Merged}");
        Assert.Contains(plans, p => p.Name.EndsWith("_conv1") && p.KeptOutputs.Length < p.OriginalShape[0]);
        Assert.Contains(plans, p => p.KeptRank is { } r && r.Length < Math.Min(p.OriginalShape[0], p.OriginalShape.Skip(1).Aggregate(1L, (a, b) => a * b)));
        AssertStreamsAlikeAndExactAfterPruning(net, plans);
    }

    /// <summary>With <see cref="EdpCompressOptions.Decompose"/> false every layer trains plain, and the proximal step on
    /// the filters still narrows blocks and streams; Pruning &amp; Merging keeps the outputs exact.</summary>
    [Fact]
    public void UndecomposedResNetPrunesChannelsOfPlainLayersAndReproducesItsOutputsInOnnx()
    {
        var options = Options();
        options.Decompose = false;
        using var net = TrainedNetFixture.Train(options);
        Assert.All(net.Weighted.Values, w => Assert.IsType<PlainWeight>(w.weight));
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.BatchNorm));
        foreach (var p in plans)
            output.WriteLine($"{p.Name}: in {p.KeptInputs.Length} out {p.KeptOutputs.Length}");
        Assert.All(plans, p => Assert.Null(p.KeptRank));
        Assert.Contains(plans, p => p.Name.EndsWith("_conv1") && p.KeptOutputs.Length < p.OriginalShape[0]);
        AssertStreamsAlikeAndExactAfterPruning(net, plans);
    }

    private void AssertStreamsAlikeAndExactAfterPruning(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        // A residual stream keeps the same channels in every member, or its sums could not add them.
        var planOf = plans.ToDictionary(p => p.Name);
        foreach (var stream in ResidualStream.Of(net.Graph))
            Assert.All(stream.Members, m => Assert.Equal(planOf[stream.Members[0].Layer.Name].KeptOutputs, planOf[m.Layer.Name].KeptOutputs));

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
