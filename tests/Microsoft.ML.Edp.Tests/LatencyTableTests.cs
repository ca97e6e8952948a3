using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Network;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.ML.Edp.Tests.LatencyTestTables;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The latency table: prediction from a given table, the merge rule by measured cost, the file format, bad
/// tables, and one real measurement in ONNX Runtime. Behaviour only: no assertion depends on how fast this machine is.</summary>
public sealed class LatencyTableTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edp-latency-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void AnOddWidthIsPredictedSlowerThanTheWiderBlockMultiple()
    {
        var table = Blocked();
        // conv4 (32 -> 32 at 14x14): 11 and 16 output channels from the table's points; 11 costs twice the padded 16.
        Assert.True(table.Layer("conv4", 32, 11, null, 1) > table.Layer("conv4", 32, 16, null, 1));
        Assert.True(table.Layer("conv4", 11, 32, null, 1) > table.Layer("conv4", 16, 32, null, 1));
        // Whole networks: odd widths 11,11,22,22,45,45 against the block-aligned 16,16,16,16,32,32.
        double Network(int[] w) => table.Overhead(1) + Enumerable.Range(0, 6).Sum(i => table.Layer($"conv{i + 1}", i == 0 ? 1 : w[i - 1], w[i], null, 1))
            + table.Layer(Architectures.ClassifierName, w[5], 10, null, 1);
        Assert.True(Network([11, 11, 22, 22, 45, 45]) > Network([16, 16, 16, 16, 32, 32]));
    }

    [Fact]
    public void TimesAtTheBlocksMultiplesAreReadNonDecreasingInWidthAndOtherWidthsAsTimed()
    {
        // Block 16: 16 timed slower than 32 and 48 is noise and pools with them; 8 and 24 are not multiples and stay.
        var fitted = LatencyTable.NonDecreasingAtBlocks([(8, 5.0), (16, 4.0), (24, 9.0), (32, 2.0), (48, 3.0), (64, 6.0)], 16);
        Assert.Equal([(8, 5.0), (16, 3.0), (24, 9.0), (32, 3.0), (48, 3.0), (64, 6.0)], fitted);
        Assert.Equal([(16, 1.0), (32, 2.0)], LatencyTable.NonDecreasingAtBlocks([(16, 1.0), (32, 2.0)], 16));

        // Through a table: conv3's 16 output channels timed slower than its plain 32 are read as no slower than 32.
        var table = Blocked();
        var conv3 = table.Layers.Single(l => l.Name == "conv3");
        var noisy = table with { Layers = table.Layers.Select(l => l != conv3 ? l : l with
        {
            Points = l.Points.Select(p => p is { Rank: null, InChannels: 16, OutChannels: 16 } ? p with { Milliseconds = [1.0] } : p).ToArray(),
        }).ToArray() };
        Assert.True(noisy.Layer("conv3", 16, 16, null, 1) <= noisy.Layer("conv3", 16, 32, null, 1));
        Assert.True(table.Layer("conv3", 16, 16, null, 1) < table.Layer("conv3", 16, 32, null, 1));
        // The plain shape is read as timed.
        Assert.Equal(table.Layer("conv3", 16, 32, null, 1), noisy.Layer("conv3", 16, 32, null, 1));
    }

    [Fact]
    public void TheMergeRuleKeepsAPairOnlyWhereTheTableSaysItIsFaster()
    {
        var table = Blocked();
        // conv6 (64 -> 64, max rank 64): rank 16 costs a quarter of the conv plus 0.05 ms, rank 64 all of it plus 0.05 ms.
        Assert.True(table.PairIsFaster("conv6", 64, 64, 16, 1));
        Assert.False(table.PairIsFaster("conv6", 64, 64, 64, 1));
        // Where the conv is cheap, the tensor between the pair's convs costs more than the rank saves.
        Assert.False(table.PairIsFaster("conv1", 1, 16, 8, 1));
    }

    [Fact]
    public void ATableFileRoundTrips()
    {
        var table = Blocked();
        var back = LatencyTable.FromJson(table.ToJson(), "in memory");
        Assert.Equal(table.ToJson(), back.ToJson());
        Assert.Equal(table.Layer("conv5", 24, 40, 20, 1), back.Layer("conv5", 24, 40, 20, 1));
        Assert.Empty(back.Problems(LayerSite.Of(VggSmall()), 1));
    }

    [Fact]
    public void AGivenTableWithAMissingLayerOrANegativeTimeIsRefusedNamingTheProblem()
    {
        var table = Blocked();
        string missing = Write("missing.json", table with { Layers = table.Layers.Where(l => l.Name != "conv3").ToArray() });
        var e = Assert.Throws<InvalidDataException>(() => LatencyTables.For(VggSmall(), missing, [1], Machine, _ => { }, _ => { }));
        output.WriteLine(e.Message);
        Assert.Contains("layer 'conv3' (conv 3x3/1 pad 1 16->32 at 14x14 +relu) is missing", e.Message);

        var layers = table.Layers.ToArray();
        layers[1] = layers[1] with { Points = [layers[1].Points[0] with { Milliseconds = [-0.5] }, .. layers[1].Points[1..]] };
        string negative = Write("negative.json", table with { Layers = layers });
        e = Assert.Throws<InvalidDataException>(() => LatencyTables.For(VggSmall(), negative, [1], Machine, _ => { }, _ => { }));
        output.WriteLine(e.Message);
        Assert.Contains("layer 'conv2' at 16->8 must hold one finite time >= 0 per batch size, found [-0.5]", e.Message);

        e = Assert.Throws<InvalidDataException>(() => LatencyTables.For(VggSmall(), Write("batch.json", table), [1, 64], Machine, _ => { }, _ => { }));
        Assert.Contains("no times at batch 64 (it holds 1)", e.Message);

        File.WriteAllText(Path.Combine(_dir.FullName, "garbage.json"), "{ not json");
        e = Assert.Throws<InvalidDataException>(() => LatencyTables.For(VggSmall(), Path.Combine(_dir.FullName, "garbage.json"), [1], Machine, _ => { }, _ => { }));
        Assert.Contains("is not a table written by 'edp profile'", e.Message);
    }

    [Fact]
    public void AGivenTableFromAnotherCpuIsUsedAndTheLogSaysWhoseMachineItPredicts()
    {
        string path = Write("deployment.json", Blocked(Machine with { Cpu = "Deployment CPU" }));
        var log = new List<string>();
        var loaded = LatencyTables.For(VggSmall(), path, [1], Machine, log.Add, log.Add);
        Assert.Equal("Deployment CPU", loaded.Table.Cpu);
        Assert.Contains(log, l => l.Contains("measured on Deployment CPU") && l.Contains("predictions are for that machine"));
    }

    /// <summary>The only test that times anything: a real VGG-S table on this machine, in a temporary cache folder. A
    /// cached table from another CPU is measured again with a log line naming both machines; the second fit reads the
    /// cache. Asserts shapes and that times are finite and non-negative, never how fast they are.</summary>
    [Fact]
    public void ATableIsMeasuredInSecondsCachedAndMeasuredAgainWhenTheCacheIsFromAnotherCpu()
    {
        var graph = VggSmall();
        var here = Hardware.Current;
        output.WriteLine(here.ToString());
        var log = new List<string>();
        var first = LatencyTables.For(graph, null, [1, 64], here, log.Add, log.Add, _dir.FullName);
        Assert.Equal("measured", first.Source);
        Assert.Empty(first.Table.Problems(LayerSite.Of(graph), 64));
        Assert.Contains(first.Table.Layers.Single(l => l.Name == "conv6").Points, p => p.OutChannels == here.ConvBlock && p.Rank is null);
        string cached = Assert.Single(Directory.GetFiles(_dir.FullName));
        log.ForEach(output.WriteLine);

        var again = LatencyTables.For(graph, null, [1, 64], here, log.Add, log.Add, _dir.FullName);
        Assert.Equal(cached, again.Source);

        File.WriteAllText(cached, (first.Table with { Cpu = "Another CPU" }).ToJson());
        log.Clear();
        var remeasured = LatencyTables.For(graph, null, [1, 64], here, log.Add, log.Add, _dir.FullName);
        Assert.Equal("measured", remeasured.Source);
        Assert.Contains(log, l => l.Contains("measuring latency again") && l.Contains("measured on Another CPU"));
        double plain = remeasured.Table.Overhead(64) + LayerSite.Of(graph).Sum(s => remeasured.Table.Layer(s.Name, s.InChannels, s.OutChannels, null, 64));
        output.WriteLine($"predicted plain VGG-S at batch 64: {plain:F3} ms");
        Assert.True(double.IsFinite(plain) && plain > 0);
    }

    [Fact]
    public void AFitGivenATableThatDoesNotFitFailsBeforeTrainingNamingTheLayer()
    {
        var table = Blocked();
        string path = Write("vggs-without-conv6.json", table with { Layers = table.Layers.Where(l => l.Name != "conv6").ToArray() });
        var progress = new List<EdpProgress>();
        var ml = new MLContext(1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(new EdpCompressOptions
        {
            Epochs = 1, BatchSize = 32, NumberOfThreads = 1, TargetMacsRatio = null, LatencyTablePath = path, Progress = progress.Add,
        }));
        var e = Assert.Throws<InvalidDataException>(() => pipeline.Fit(ml.Data.LoadFromEnumerable(TestData.Train.Take(200).ToList())));
        Assert.Contains($"The latency table '{path}' does not fit this network: layer 'conv6'", e.Message);
        Assert.Empty(progress);
    }

    [Theory]
    [InlineData(EdpArchitecture.ResNet20)]
    [InlineData(EdpArchitecture.VggMedium)]
    public void ThePlainExportAndEveryLayerModelRunInOnnxRuntime(EdpArchitecture architecture)
    {
        var graph = Architectures.Build(TestData.Settings(new EdpCompressOptions { Architecture = architecture }).Network, 10);
        var sites = LayerSite.Of(graph);
        Assert.Equal(graph.Layers.Count(l => l is ConvLayer or LinearLayer), sites.Count);
        using (var plain = new OrtTimer(Export.OnnxModelWriter.Write(TimingGraphs.Plain(graph), new Dictionary<string, string>()), 1, 28, 28))
            Assert.True(plain.Run(2) >= 0);
        foreach (var site in sites)
        {
            using var layer = new OrtTimer(Export.OnnxModelWriter.Write(TimingGraphs.Layer(site, site.InChannels, site.OutChannels, site.IsBlock ? 8 : null), new Dictionary<string, string>()),
                site.InChannels, site.Height, site.Width);
            Assert.True(layer.Run(2) >= 0);
        }
        // ResNet's second conv of a block is read by the residual sum: no ReLU is fused into it.
        if (architecture == EdpArchitecture.ResNet20)
            Assert.Null(sites.Single(s => s.Name == "s1b1_conv2").Relu);
    }

    /// <summary>Imported models hold layers the built-in networks do not: the plain export and every layer model run, a
    /// grouped conv is timed with its groups (one that loses whole groups at whole groups, in and out together), and a
    /// measured table fits the network and predicts its pruned plans.</summary>
    [Theory]
    [InlineData("depthwise")]
    [InlineData("concat-depthwise")]
    [InlineData("grouped-conv")]
    [InlineData("grouped-block")]
    [InlineData("squeeze-excitation")]
    [InlineData("channel-shuffle")]
    [InlineData("slice")]
    [InlineData("mixed")]
    [InlineData("pre-activation")]
    public void AnImportedPatternIsTimedAndPredictedLayerByLayer(string name)
    {
        var model = OnnxPatternModels.Build(name, 13);
        var graph = Import.ImportedHead.Fit(Import.OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        var sites = LayerSite.Of(graph);
        using (var plain = new OrtTimer(Export.OnnxModelWriter.Write(TimingGraphs.Plain(graph), new Dictionary<string, string>()), 1, 28, 28))
            Assert.True(plain.Run(2) >= 0);
        Assert.All(sites.Where(s => s.Groups > 1), s => Assert.Contains($" in {s.Groups} groups", s.Signature));

        var table = LatencyProfiler.Measure(graph, [1], Hardware.Current, output.WriteLine);
        Assert.Empty(table.Problems(sites, 1));
        foreach (var site in sites.Where(s => s.ChannelsFollowInput))
            Assert.All(table.Layers.Single(l => l.Name == site.Name).Points, p => Assert.True(p.InChannels == p.OutChannels && p.OutChannels % site.ChannelsPerGroup == 0, $"{site.Name} at {p.InChannels}->{p.OutChannels}"));
        using var net = new EdpNet(graph);
        var plans = Groups.PruningPlanner.Plan(net, new Groups.PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm));
        var predicted = new LatencyCost(table, 1);
        double full = predicted.Before(plans);
        // A plan that narrows every layer, the depthwise convs in and out together, is predicted from the table's points.
        var halved = plans.Select(p => p with { KeptInputs = p.KeptInputs[..Math.Max(1, p.KeptInputs.Length / 2)], KeptOutputs = p.KeptOutputs[..Math.Max(1, p.KeptOutputs.Length / 2)], KeptRank = null }).ToList();
        double narrow = predicted.After(halved);
        Assert.True(double.IsFinite(full) && full > 0, $"plain prediction {full}");
        Assert.True(double.IsFinite(narrow) && narrow >= 0, $"narrowed prediction {narrow}");
        // What a group saves, for the selection under a latency budget: positive and finite at every layer, depthwise
        // followers and Concat producers included.
        Assert.All(predicted.Groups(graph).Values, g => Assert.True(g.Rank > 0 && g.Channel > 0 && double.IsFinite(g.Rank + g.Channel), $"{g}"));
    }

    private string Write(string name, LatencyTable table)
    {
        string path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, table.ToJson());
        return path;
    }
}
