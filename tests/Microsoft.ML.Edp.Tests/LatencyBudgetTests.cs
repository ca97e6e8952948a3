using System.Globalization;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.Edp.Training;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.Edp.Tests.LatencyTestTables;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Cost as one idea under a latency budget: the latency cost model, the budget met in predicted latency, the
/// merge rule by measured cost and the latency options. Every prediction comes from a fixed, injected table, so no
/// assertion depends on how fast this machine is.</summary>
public sealed class LatencyBudgetTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edp-latency-budget-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>The plans of VGG-S keeping the first <paramref name="widths"/>[i] channels of conv i+1 (and, where given,
    /// the first <paramref name="ranks"/>[i] basis filters), planned with <paramref name="pruning"/>.</summary>
    private static IReadOnlyList<LayerPlan> Planned(EdpNet net, PruningSettings pruning, int[]? widths = null, Dictionary<string, int>? ranks = null)
    {
        var chosen = new Dictionary<string, KeptGroups>();
        foreach (var layer in LayerGroups.Of(net))
        {
            int index = layer.Name.StartsWith("conv", StringComparison.Ordinal) ? int.Parse(layer.Name[4..]) - 1 : -1;
            long[]? outputs = widths is not null && index >= 0 ? GroupSelection.All(widths[index]) : null;
            long[] rank = ranks is not null && ranks.TryGetValue(layer.Name, out int r) ? GroupSelection.All(r) : GroupSelection.All(layer.Weight.Rank);
            chosen[layer.Name] = new KeptGroups(outputs ?? GroupSelection.All(layer.Weight.OutChannels), rank);
        }
        return PruningPlanner.Plan(net, pruning, chosen);
    }

    private static PruningSettings Pruning(CostModel mergeRule, int multiple = 1)
        => new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm, multiple) { MergeRule = mergeRule };

    [Fact]
    public void TheLatencyCostRanksOddWidthsAboveBlockAlignedOnesThatHaveMoreMacs()
    {
        var latency = new LatencyCost(Blocked(), 1);
        using var net = new EdpNet(VggSmall());
        var conv4 = Planned(net, Pruning(CostModel.Macs)).Single(p => p.Name == "conv4");
        // One layer: 24 output channels are padded to 32 and leave the blocked kernels; 32 fit them. MACs say the reverse.
        Assert.True(CostModel.Macs.Layer(conv4, 32, 24, null) < CostModel.Macs.Layer(conv4, 32, 32, null));
        Assert.True(latency.Layer(conv4, 32, 24, null) > latency.Layer(conv4, 32, 32, null));

        // Whole networks: the odd widths have fewer MACs than the block-aligned ones, and are predicted far slower.
        var odd = Planned(net, Pruning(latency), [11, 11, 22, 22, 44, 44]);
        var aligned = Planned(net, Pruning(latency), [16, 16, 16, 16, 32, 32]);
        output.WriteLine($"MACs {CostModel.Macs.After(odd):N0} odd, {CostModel.Macs.After(aligned):N0} aligned; latency {latency.After(odd):F4} ms odd, {latency.After(aligned):F4} ms aligned");
        Assert.True(CostModel.Macs.After(odd) < CostModel.Macs.After(aligned));
        Assert.True(latency.After(odd) > 1.5 * latency.After(aligned));

        // Per group: a channel of conv5 (64 -> 64 at 7x7, read by conv6) saves more milliseconds than one of conv1, whose
        // output is cheap to write at any width the table holds below the block.
        var groups = latency.Groups(net.Graph);
        Assert.True(groups["conv5"].Channel > groups["conv1"].Channel);
        Assert.All(groups.Values, g => Assert.True(g.Rank > 0 && g.Channel > 0));
    }

    /// <summary>A grouped conv whose groups read and write as many channels (ResNeXt's 3x3) loses whole groups with its
    /// input: the table times it at its candidate group counts, predicts it faster with fewer, and a channel of the
    /// conv that feeds it carries its share of a group's time, which a table of the plain widths alone gave as nothing.</summary>
    [Fact]
    public void AGroupedConvThatLosesWholeGroupsIsPredictedFasterAndItsProducerCarriesTheSaving()
    {
        var model = OnnxPatternModels.Build("grouped-block", 13);
        var graph = Import.ImportedHead.Fit(Import.OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        var grouped = LayerSite.Of(graph).Single(s => s.Groups > 1);
        // 16 -> 16 in 4 groups of 4: whole groups, a block's worth (16) of channels at a step, or one group where a
        // block is no wider than a group.
        Assert.True(grouped.ChannelsFollowInput);
        Assert.Equal([(8, 8), (16, 16)], LatencyProfiler.Shapes(grouped, 16).Select(p => (p.In, p.Out)));
        Assert.Equal([4, 8, 12, 16], LatencyProfiler.GroupWidths(grouped, 4));

        // Times in proportion to the MACs at each width: a grouped conv's filters read one group each.
        static double Macs(LayerSite s, int c, int n, int? r)
            => 1e-4 * (r is int rank ? rank * (c * s.Kernel * s.Kernel + n) : (double)n * c * s.Kernel * s.Kernel / (s.ChannelsFollowInput ? c / s.ChannelsPerGroup : s.Groups));
        var table = Synthetic(graph, Macs);
        Assert.Empty(table.Problems(LayerSite.Of(graph), 1));
        var latency = new LatencyCost(table, 1);
        using var net = new EdpNet(graph);
        var plan = PruningPlanner.Plan(net, Pruning(latency)).Single(p => p.Name == grouped.Name);
        // Two of the four groups kept: half the time, read off the table's points.
        double full = latency.Layer(plan, 16, 16, null), half = latency.Layer(plan, 8, 8, null);
        Assert.Equal(full / 2, half, 9);

        // The conv that feeds it (8 -> 16, 1x1): each of its channels saves a quarter of what one group of the grouped
        // conv costs, on top of its own share and its reader's; against a table of the grouped conv's plain widths only.
        var producer = Assert.Single(ChannelCoupling.Analyse(graph), c => c.Followers.Any(f => f.Conv.Name == grouped.Name)).Layer.Name;
        var plainWidths = table with { Layers = table.Layers.Select(l => l.Name != grouped.Name ? l : l with { Points = l.Points.Where(p => p.OutChannels == l.OutChannels).ToArray() }).ToArray() };
        double perGroup = (table.Layer(grouped.Name, 16, 16, null, 1) - table.Layer(grouped.Name, 4, 4, null, 1)) / 3;
        double saved = latency.Groups(graph)[producer].Channel - new LatencyCost(plainWidths, 1).Groups(graph)[producer].Channel;
        output.WriteLine($"a group of {grouped.Name}: {perGroup:G4} ms; a channel of {producer} saves {saved:G4} ms more");
        Assert.True(perGroup > 0);
        Assert.Equal(perGroup / 4, saved, 9);
    }

    /// <summary>The freeze cut of a latency budget, through the budget controller, against the fixed table: a few
    /// training steps give the Taylor estimates, then <see cref="BudgetController.Enforce"/> cuts.</summary>
    [Theory]
    [InlineData(0.75)]
    [InlineData(0.85)]
    public void ALatencyBudgetAgainstAFixedTableLandsWithinFivePercentOfItsTarget(double target)
    {
        var latency = new LatencyCost(Blocked(), 1);
        var options = new EdpCompressOptions { TargetMacsRatio = null, TargetLatencyRatio = target, ChannelMultiple = 1 };
        var settings = EdpSettings.From(options);
        var pruning = settings.Pruning with { MergeRule = latency };
        manual_seed(1);
        using var net = new EdpNet(VggSmall());
        var prox = ProximalGroupLasso.For(net, options.PenaltyWeighting, options.ChannelGroup);
        var budget = BudgetController.Create(settings.Budget, pruning, net, prox, stepsPerEpoch: 10, latency)!;
        for (int step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            net.zero_grad();
            nn.functional.cross_entropy(net.forward(rand(16, 1, 28, 28)), randint(0, 10, [16])).backward();
            budget.Observe();
        }
        var log = new List<string>();
        budget.Enforce(net, log.Add);
        log.ForEach(output.WriteLine);

        var plans = PruningPlanner.Plan(net, pruning);
        double plain = latency.Before(plans), reached = latency.After(plans) / plain;
        output.WriteLine($"predicted {latency.After(plans):F4} ms of {plain:F4} ms plain: {reached:P1} for a target of {target:P1}");
        Assert.InRange(reached, target * 0.95, target);
        Assert.Contains(log, l => l.Contains("predicted latency at batch 1"));
    }

    [Fact]
    public void TheMergeRuleKeepsAPairOnlyWhereTheTableSaysItIsFaster()
    {
        var table = Blocked();
        var latency = new LatencyCost(table, 1);
        using var net = new EdpNet(VggSmall());
        int disagreements = 0;
        foreach (var layer in LayerGroups.Of(net).Where(l => l.Name.StartsWith("conv", StringComparison.Ordinal)))
            foreach (int rank in new[] { 2, 4, 8, 16, 32, 48 }.Where(r => r < layer.Weight.Rank))
            {
                var ranks = new Dictionary<string, int> { [layer.Name] = rank };
                var byTable = Planned(net, Pruning(latency), ranks: ranks).Single(p => p.Name == layer.Name);
                var byMacs = Planned(net, Pruning(CostModel.Macs), ranks: ranks).Single(p => p.Name == layer.Name);
                bool faster = table.PairIsFaster(layer.Name, byTable.KeptInputs.Length, byTable.KeptOutputs.Length, rank, 1) && !byMacs.Merged;
                Assert.Equal(!faster, byTable.Merged);
                Assert.Equal(faster ? rank : null, byTable.PairRank);
                disagreements += byTable.Merged != byMacs.Merged ? 1 : 0;
                // Pruning & Merging exports what the plan says: the pair as a basis and a coefficient conv, or one conv.
                var exported = PruneAndMerge.Apply(net, Planned(net, Pruning(latency), ranks: ranks));
                Assert.Equal(faster, exported.Layers.Any(l => l.Name == $"{layer.Name}_basis"));
            }
        // The table's rule is not the MACs rule in disguise: at small ranks of cheap layers the tensor between the pair's
        // convs costs more than the rank saves, where the MACs rule keeps the pair.
        Assert.True(disagreements > 0);
    }

    [Fact]
    public void APairWithMoreMacsThanItsMergedLayerMergesWhateverTheTableSays()
    {
        // A noisy table: every pair timed at half its merged layer, whatever its rank.
        var graph = VggSmall();
        var table = Synthetic(graph, (s, c, n, r) => 1e-4 * c * n * (r is null ? 1 : 0.5));
        using var net = new EdpNet(graph);
        foreach (var layer in LayerGroups.Of(net).Where(l => l.Name is "conv2" or "conv6"))
            foreach (int rank in new[] { 4, layer.Weight.Rank })
            {
                var ranks = new Dictionary<string, int> { [layer.Name] = rank };
                var byTable = Planned(net, Pruning(new LatencyCost(table, 1)), ranks: ranks).Single(p => p.Name == layer.Name);
                var byMacs = Planned(net, Pruning(CostModel.Macs), ranks: ranks).Single(p => p.Name == layer.Name);
                Assert.True(table.PairIsFaster(layer.Name, byTable.KeptInputs.Length, byTable.KeptOutputs.Length, rank, 1));
                // At rank 4 the pair has fewer MACs and the table decides; at full rank it has more and merges.
                Assert.Equal(rank == 4, !byMacs.Merged);
                Assert.Equal(byMacs.Merged, byTable.Merged);
            }
    }

    [Theory]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyRatio), 0.0, "TargetLatencyRatio must be a ratio in (0, 1]; found 0")]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyRatio), 1.5, "TargetLatencyRatio must be a ratio in (0, 1]; found 1.5")]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyRatio), double.NaN, "TargetLatencyRatio must be a ratio in (0, 1]; found NaN")]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyMilliseconds), 0.0, "TargetLatencyMilliseconds must be a positive number of milliseconds; found 0")]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyMilliseconds), -2.0, "TargetLatencyMilliseconds must be a positive number of milliseconds; found -2")]
    [InlineData(nameof(EdpCompressOptions.TargetLatencyMilliseconds), double.PositiveInfinity, "TargetLatencyMilliseconds must be a positive number of milliseconds; found ")]
    public void AnOutOfRangeLatencyTargetIsRejectedNamingTheRangeAndTheValue(string option, double value, string expected)
    {
        var options = new EdpCompressOptions();
        typeof(EdpCompressOptions).GetField(option)!.SetValue(options, value);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(1).Transforms.CompressEdp(options));
        output.WriteLine(e.Message);
        Assert.Equal(option, e.ParamName);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ALatencyTargetWithoutATableIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(1).Transforms.CompressEdp(
            new EdpCompressOptions { TargetLatencyRatio = 0.5, MeasureLatency = false }));
        output.WriteLine(e.Message);
        Assert.Contains("TargetLatencyRatio must be null unless a latency table is measured (MeasureLatency = true) or given (LatencyTablePath)", e.Message);
        Assert.Contains("found 0.5 with MeasureLatency = false and no LatencyTablePath", e.Message);
        // A given table is enough.
        new MLContext(1).Transforms.CompressEdp(new EdpCompressOptions { TargetLatencyMilliseconds = 0.5, MeasureLatency = false, LatencyTablePath = "latency.json" });
    }

    [Fact]
    public void AnUnreachableLatencyTargetFailsNamingTheReachableMilliseconds()
    {
        var latency = new LatencyCost(Blocked(), 1);
        var settings = EdpSettings.From(new EdpCompressOptions { TargetMacsRatio = null, TargetLatencyMilliseconds = 0.01 });
        using var net = new EdpNet(VggSmall());
        var prox = ProximalGroupLasso.For(net, EdpPenaltyWeighting.Uniform, EdpChannelGroup.CoefficientsAndBatchNorm);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BudgetController.Create(settings.Budget, settings.Pruning with { MergeRule = latency }, net, prox, 10, latency));
        output.WriteLine(e.Message);
        Assert.Contains("TargetLatencyMilliseconds is 0.01 ms, but this network cannot go below", e.Message);
        Assert.Contains("of its predicted latency (", e.Message);
        Assert.Contains("ms, latency at batch 1)", e.Message);
    }

    /// <summary>The proof's warning from given timings: a model measured slower than plain is warned about even where
    /// the table predicted no gain (a MACs budget that kept pairs), naming the pairs and the latency budget that avoids
    /// them; one close to its prediction is not, nor one within the timing's noise of plain; one far below it is.</summary>
    [Fact]
    public void TheProofWarnsWhenTheModelRunsSlowerThanPlainOrFarBelowItsPrediction()
    {
        using var net = new EdpNet(VggSmall());
        var table = Blocked();
        var pairs = Planned(net, Pruning(CostModel.Macs), ranks: new() { ["conv4"] = 8, ["conv6"] = 8 });
        Assert.Contains(pairs, p => p.PairRank is not null);
        EdpBatchLatency Timed(double predicted, double measured)
            => new() { Batch = 1, PredictedPlainMilliseconds = 1, PredictedMilliseconds = 1 / predicted, MeasuredPlainMilliseconds = 1, MeasuredMilliseconds = 1 / measured };

        var slower = LatencyProof.WarningFor(Timed(predicted: 1.0, measured: 0.85), pairs, table, "test", Machine);
        output.WriteLine(slower);
        Assert.NotNull(slower);
        Assert.StartsWith("EDP: at batch 1 the compressed model ran slower than the plain one (0.85x as fast; the latency table predicted 1.00x)", slower);
        Assert.Contains("run as basis and coefficient pairs", slower);
        Assert.Contains("TargetLatencyRatio", slower);

        Assert.Null(LatencyProof.WarningFor(Timed(predicted: 1.5, measured: 1.4), pairs, table, "test", Machine));
        Assert.Null(LatencyProof.WarningFor(Timed(predicted: 1.0, measured: 0.99), pairs, table, "test", Machine));
        var farBelow = LatencyProof.WarningFor(Timed(predicted: 2.0, measured: 1.2), pairs, table, "test", Machine);
        Assert.NotNull(farBelow);
        Assert.StartsWith("EDP: at batch 1 the model ran 1.20x as fast as plain, far below the 2.00x", farBelow);
    }

    /// <summary>Through the public API: a latency budget alone, with a given table and no timing, is met in predicted
    /// latency and stated in the report.</summary>
    [Fact]
    public void AFitWithALatencyBudgetReportsTheBudgetAndThePredictedLatencyReached()
    {
        string path = Path.Combine(_dir.FullName, "vggs.json");
        File.WriteAllText(path, Blocked(batches: [1, 64]).ToJson());
        var ml = new MLContext(1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(new EdpCompressOptions
        {
            Epochs = 1, BatchSize = 32, NumberOfThreads = 2, TargetMacsRatio = null, TargetLatencyRatio = 0.8, ChannelMultiple = 1,
            MeasureLatency = false, LatencyTablePath = path,
        }));
        using var model = pipeline.Fit(ml.Data.LoadFromEnumerable(TestData.Train.Take(600).ToList())).LastTransformer;
        var report = model.Report;
        output.WriteLine(report.ToMarkdown());
        Assert.Equal(0.8, report.TargetLatencyRatio);
        Assert.Null(report.Latency);
        Assert.InRange(report.PredictedLatencyRatio!.Value, 0.8 - EdpCompression.BudgetTolerance, 0.8 + 1e-9);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"- latency budget: {0.8:P1} asked, {report.PredictedLatencyRatio:P1} predicted"), report.ToMarkdown());
    }
}
