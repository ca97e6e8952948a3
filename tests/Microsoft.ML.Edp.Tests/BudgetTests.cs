using Microsoft.ML.Edp.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Edp.Tests;

/// <summary>A MACs budget is met by Pruning &amp; Merging within 3% of the plain cost, with no fine-tune stage.</summary>
public class BudgetTests(ITestOutputHelper output)
{
    private static EdpCompressTransformer Fit(double target, List<string> warnings,
        EdpArchitecture architecture = EdpArchitecture.VggSmall, EdpBudgetPenalty penalty = EdpBudgetPenalty.LeastImportant, int multiple = 8)
    {
        var ml = new MLContext(1);
        // 282 steps are too short for the default schedule floors, which is warned before training and not what these tests are about.
        ml.Log += (_, e) => { if (e.Kind == Runtime.ChannelMessageKind.Warning && !e.Message.Contains("too short for its budget")) lock (warnings) warnings.Add(e.Message); };
        var train = ml.Data.LoadFromEnumerable(TestData.Train);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(new EdpCompressOptions
        {
            Epochs = 3, BatchSize = 32, NumberOfThreads = 2, Seed = 1, TargetMacsRatio = target, Architecture = architecture, BudgetPenalty = penalty,
            ChannelMultiple = multiple,
            // The budget is what is tested; the latency proof warns on odd widths, which multiple 1 keeps on purpose.
            MeasureLatency = false,
        })).Fit(train);
        return model.LastTransformer;
    }

    /// <remarks>Kept counts rounded to multiples of 8 move VGG-S's narrow layers in big steps, so such a budget may land
    /// further under its target, never over it: 47.7 % for 0.5 on this subset. Before the path to the budget closed its
    /// last gap as the budget does, channels alone landed at 40.4 % here: a block chosen on the path died before the
    /// path moved on, though a smaller one would have met it.</remarks>
    [Theory]
    [InlineData(0.5, EdpArchitecture.VggSmall, EdpBudgetPenalty.LeastImportant, 1)]
    [InlineData(0.3, EdpArchitecture.VggSmall, EdpBudgetPenalty.LeastImportant, 1)]
    [InlineData(0.5, EdpArchitecture.VggSmall, EdpBudgetPenalty.AllGroups, 1)]
    [InlineData(0.5, EdpArchitecture.VggSmall, EdpBudgetPenalty.LeastImportant, 8)]
    [InlineData(0.5, EdpArchitecture.ResNet20, EdpBudgetPenalty.LeastImportant, 8)]
    public void AchievedMacsRatioLandsOnTheTarget(double target, EdpArchitecture architecture, EdpBudgetPenalty penalty, int multiple)
    {
        var warnings = new List<string>();
        using var model = Fit(target, warnings, architecture, penalty, multiple);
        var report = model.Report;
        output.WriteLine(report.ToMarkdown());
        Assert.Equal(target, report.TargetMacsRatio);
        Assert.InRange(report.MacsRatio, target - (multiple == 1 ? 0.03 : 0.06), target + (multiple == 1 ? 0.03 : 0));
        // A miss over 3% is logged, and with rounding it names the rounding as the reason.
        Assert.All(warnings, w => Assert.Contains("ChannelMultiple", w));
        if (multiple == 1)
            Assert.Empty(warnings);
        Assert.Contains($"MACs budget: {target:P1} asked", report.ToMarkdown());
    }

    /// <summary>Left to the CPU's block, the multiple halves until the budget is reachable: the one chosen reaches it,
    /// and the one before it (twice as large) provably does not.</summary>
    [Theory]
    [InlineData(0.5)]
    [InlineData(0.2)]
    [InlineData(0.05)]
    public void TheReachableMultipleIsTheLargestHalvingOfTheBlockThatMeetsTheBudget(double target)
    {
        var settings = TestData.Settings(new EdpCompressOptions { TargetMacsRatio = target, ChannelMultiple = 16 });
        using var net = new Network.EdpNet(Network.Architectures.Build(settings.Network, 10));
        var prox = ProximalGroupLasso.For(net, EdpPenaltyWeighting.Uniform, settings.Pruning.ChannelGroup);
        BudgetController? Create(int multiple) => BudgetController.Create(settings.Budget, settings.Pruning with { Multiple = multiple }, net, prox, 100);

        int chosen = BudgetController.ReachableMultiple(settings.Budget!, settings.Pruning, net);
        output.WriteLine($"target {target}: multiple {chosen}");

        Assert.Contains(chosen, new[] { 1, 2, 4, 8, 16 });
        if (chosen > 1)
            Assert.NotNull(Create(chosen));
        if (chosen < 16)
            Assert.Throws<ArgumentOutOfRangeException>(() => Create(chosen * 2));
    }

    [Fact]
    public void AnUnreachableTargetFailsBeforeTrainingAndSaysWhatIsReachable()
    {
        var ml = new MLContext(1);
        var train = ml.Data.LoadFromEnumerable(TestData.Train);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(new EdpCompressOptions
        {
            Epochs = 1, BatchSize = 32, TargetMacsRatio = 0.001,
        }));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Fit(train));
        output.WriteLine(e.Message);
        Assert.Contains("TargetMacsRatio is 0.001", e.Message);
        Assert.Contains("cannot go below", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    public void ATargetOutsideZeroToOneIsRejected(double target)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(1).Transforms.CompressEdp(new EdpCompressOptions { TargetMacsRatio = target }));
        Assert.Contains("TargetMacsRatio must be a ratio in (0, 1]", e.Message);
    }
}
