using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

public class PruneAndMergeTests(TrainedNetFixture fixture, ITestOutputHelper output) : IClassFixture<TrainedNetFixture>
{
    [Fact]
    public void AtThresholdZeroThePrunedNetworkReproducesTheTrainedOneOnRealImages()
    {
        var plans = PruningPlanner.Plan(fixture.Compressed, new PruningSettings(0, TrainedNetFixture.StrongOptions.ChannelGroup));
        foreach (var p in plans)
            output.WriteLine($"{p.Name}: in {p.KeptInputs.Length} out {p.KeptOutputs.Length} rank {p.KeptRank?.Length} merged {p.Merged} MACs {p.Before.Macs} -> {p.After.Macs}");
        // The test means something only if training really zeroed groups.
        Assert.True(plans.Sum(p => p.After.Macs) < 0.9 * plans.Sum(p => p.Before.Macs), "strong penalties should remove over 10% of the MACs");
        Assert.Contains(plans, p => p.KeptOutputs.Length < p.OriginalShape[0]);

        var graph = PruneAndMerge.Apply(fixture.Compressed, plans);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var expected = fixture.Compressed.forward(fixture.TestImages);
        var actual = ReferenceRunner.Logits(graph, fixture.TestImages);
        double diff = (expected - actual).abs().max().item<float>();
        double accuracy = actual.argmax(1).eq(fixture.TestLabels).to(ScalarType.Float32).mean().item<float>();
        output.WriteLine($"max |trained - pruned| = {diff:G3}, accuracy {accuracy:P1}");
        Assert.True(accuracy >= 0.5, $"the pruned network must still classify (accuracy {accuracy:P1}), or exactness proves nothing");
        Assert.True(diff <= 1e-4, $"max abs logit difference {diff}");
    }

    [Fact]
    public void PrunedOnnxEqualsPrunedTorchSharp()
    {
        var graph = PruneAndMerge.Apply(fixture.Compressed, PruningPlanner.Plan(fixture.Compressed, new PruningSettings(1e-2, TrainedNetFixture.StrongOptions.ChannelGroup)));
        var pixels = fixture.TestImages.data<float>().ToArray();
        using var scorer = new OnnxScorer(OnnxModelWriter.Write(graph, new Dictionary<string, string>()));
        var ort = scorer.Logits(pixels, TrainedNetFixture.CheckImages, 1, 28, 28);
        var torchLogits = ReferenceRunner.Logits(graph, fixture.TestImages).data<float>().ToArray();
        Assert.Equal(torchLogits.Length, ort.Length);
        Assert.True(ort.Zip(torchLogits, (a, b) => Math.Abs(a - b)).Max() <= 1e-4);
        Assert.Equal(ArgMax(torchLogits, 10), ArgMax(ort, 10));
    }

    [Fact]
    public void PlainNetworkOnnxEqualsTorchSharpOnRealImages()
    {
        var graph = PruneAndMerge.Apply(fixture.Plain, PruningPlanner.Plan(fixture.Plain, new PruningSettings(0, TrainedNetFixture.StrongOptions.ChannelGroup)));
        Assert.Equal(72_666 - 224, graph.ParameterCount); // BN's gamma and beta fold into one bias for each of the 224 channels
        using var scorer = new OnnxScorer(OnnxModelWriter.Write(graph, new Dictionary<string, string>()));
        var ort = scorer.Logits(fixture.TestImages.data<float>().ToArray(), TrainedNetFixture.CheckImages, 1, 28, 28);
        using var noGrad = no_grad();
        var expected = fixture.Plain.forward(fixture.TestImages).data<float>().ToArray();
        double diff = ort.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"max |ONNX Runtime - TorchSharp| = {diff:G3}");
        Assert.True(diff <= 1e-4, $"max abs logit difference {diff}");
        Assert.Equal(ArgMax(expected, 10), ArgMax(ort, 10));
    }

    [Fact]
    public void PlainTrainingReachesTheAccuracyFloorOnTheSubset()
    {
        using var noGrad = no_grad();
        double accuracy = fixture.Plain.forward(fixture.TestImages).argmax(1).eq(fixture.TestLabels).to(ScalarType.Float32).mean().item<float>();
        output.WriteLine($"plain accuracy {accuracy:P1}");
        Assert.True(accuracy >= 0.75, $"plain VGG-S after 3 epochs on 3,000 images: {accuracy:P1}, below the 75% floor");
    }

    private static int[] ArgMax(float[] logits, int classes)
        => Enumerable.Range(0, logits.Length / classes)
            .Select(i => Array.IndexOf(logits, logits.Skip(i * classes).Take(classes).Max(), i * classes) - i * classes).ToArray();
}
