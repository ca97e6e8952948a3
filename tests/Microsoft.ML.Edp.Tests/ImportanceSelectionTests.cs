using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The budget's least-important selection: the Taylor estimate, the targeted proximal step and the choice of
/// groups to remove.</summary>
public class ImportanceSelectionTests
{
    [Fact]
    public void TargetedStepShrinksOnlyTheChosenGroupsAndLeavesTheOthersExactlyAsTheyWere()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(3, 2, 1, 1), EdpCoefficientInit.Identity);
        using var bn = nn.BatchNorm2d(3);
        using (no_grad())
        {
            cab.coefficients.copy_(tensor(new float[] { 3, 0, 0, 2, 1, 1 }, [3, 2]));
            bn.weight!.copy_(tensor(new float[] { 4, 0, 1 }));
            bn.bias!.copy_(tensor(new float[] { 0, 0, 0 }));
        }
        var prox = new ProximalGroupLasso([new("c", cab, true, ChannelUnits.Singles(cab.OutChannels), bn)]);
        // Keep channels 0 and 2 and both basis filters: only channel 1 (row norm 2) is shrunk, by 0.5 to 0.75 of it.
        prox.Target(new Dictionary<string, KeptGroups> { ["c"] = new([0, 2], null) });
        prox.Step(rankShrink: 1, channelShrink: 0.5);
        Assert.Equal(new[] { 3f, 0, 0, 1.5f, 1, 1 }, cab.coefficients.data<float>().ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(new[] { 4f, 0, 1 }, bn.weight!.data<float>().ToArray());
    }

    [Fact]
    public void TaylorEstimateIsTheSquaredSumOfParameterTimesGradientPerGroup()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(2, 2, 1, 1), EdpCoefficientInit.Identity);
        using var bn = nn.BatchNorm1d(2);
        using (no_grad())
        {
            cab.coefficients.copy_(tensor(new float[] { 1, 2, 3, 4 }, [2, 2]));
            bn.weight!.copy_(tensor(new float[] { 0.5f, 2 }));
            bn.bias!.copy_(tensor(new float[] { 1, -1 }));
        }
        // Gradients of a loss that is linear in each parameter: dL/dA = [[1,1],[1,1]], dL/dgamma = 1, dL/dbeta = 2.
        (cab.coefficients.sum() + bn.weight!.sum() + 2 * bn.bias!.sum()).backward();
        var importance = new GroupImportance([new("c", cab, true, ChannelUnits.Singles(cab.OutChannels), bn)]);
        importance.Accumulate();
        var (rank, channel) = importance.Of(0);
        // Columns: (1 + 3)^2, (2 + 4)^2. Rows: (1 + 2 + 0.5 * 1 + 1 * 2)^2 and (3 + 4 + 2 * 1 - 1 * 2)^2.
        Assert.Equal(new[] { 16f, 36f }, rank!, new FloatTolerance(1e-4f));
        Assert.Equal(new[] { 30.25f, 49f }, channel!, new FloatTolerance(1e-4f));
    }

    /// <summary>The options' network (VGG-S unless they name another) with importance estimates set per group, and its plain MACs.</summary>
    private static (EdpNet Net, IReadOnlyList<LayerGroups> Layers, GroupImportance Importance, long FullMacs) NetworkWithImportance(
        EdpCompressOptions options, Func<LayerGroups, bool, float[]> estimates)
    {
        var net = new EdpNet(Architectures.Build(TestData.Settings(options).Network, 10));
        var layers = LayerGroups.Of(net);
        var importance = new GroupImportance(layers);
        importance.Restore(layers
            .Select(l => KeyValuePair.Create("rank." + l.Name, tensor(estimates(l, false))))
            .Concat(layers.Where(l => l.HasChannelGroups).Select(l => KeyValuePair.Create("channel." + l.Name, tensor(estimates(l, true)))))
            .ToDictionary());
        return (net, layers, importance, PruningPlanner.Plan(net, new PruningSettings(0, options.ChannelGroup)).Sum(p => p.Before.Macs));
    }

    private static long Macs(IReadOnlyList<LayerPlan> plans) => plans.Sum(p => p.After.Macs);

    [Fact]
    public void SelectionRemovesTheLeastImportantPerMacAndNoMoreThanTheCostNeeds()
    {
        var options = new EdpCompressOptions { TargetMacsRatio = 0.8, ChannelMultiple = 1 };
        // Every group equally important except channel 5 of conv2 (nearly useless) and all of conv6 (more important).
        var (net, layers, importance, full) = NetworkWithImportance(options, (layer, channel) =>
        {
            var values = Enumerable.Repeat(layer.Name == "conv6" ? 100f : 1f, (int)(channel ? layer.Weight.OutChannels : layer.Weight.Rank)).ToArray();
            if (channel && layer.Name == "conv2")
                values[5] = 1e-6f;
            return values;
        });
        using var _ = net;
        var costs = GroupCosts.Of(net.Graph);

        var chosen = ImportanceSelection.Choose(net, layers, importance, costs, TestData.Settings(options).Pruning, plans => Macs(plans) <= 0.8 * full);
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, options.ChannelGroup), chosen);
        Assert.True(Macs(plans) <= 0.8 * full);
        Assert.DoesNotContain(5L, chosen["conv2"].Outputs!);                 // the useless channel goes first
        Assert.Equal(64, chosen["conv6"].Outputs!.Length);                  // the important layer is untouched
        Assert.Equal(64, chosen["conv6"].Rank!.Length);                     // merged layers keep their basis filters
        // As few as needed: the cost lands within one group's cost of the budget, and a looser budget removes fewer.
        Assert.True(Macs(plans) > 0.77 * full);
        int Removed(IReadOnlyDictionary<string, KeptGroups> c)
            => PruningPlanner.Plan(net, new PruningSettings(0, options.ChannelGroup), c).Sum(p => (int)(p.OriginalShape[0] - p.KeptOutputs.Length));
        var fewer = ImportanceSelection.Choose(net, layers, importance, costs, TestData.Settings(options).Pruning, plans => Macs(plans) <= 0.9 * full);
        Assert.InRange(Removed(fewer), 1, Removed(chosen) - 1);
    }

    [Fact]
    public void LayerNormalizedRankingNoLongerSparesALayerForItsScaleAlone()
    {
        var options = new EdpCompressOptions { TargetMacsRatio = 0.8, ChannelMultiple = 1 };
        // conv6's estimates are all 100x the others', with a spread inside it like every other layer's.
        var (net, layers, importance, full) = NetworkWithImportance(options, (layer, channel) =>
            Enumerable.Range(0, (int)(channel ? layer.Weight.OutChannels : layer.Weight.Rank))
                .Select(j => (layer.Name == "conv6" ? 100f : 1f) * (1 + j)).ToArray());
        using var _ = net;
        var costs = GroupCosts.Of(net.Graph);
        Dictionary<string, KeptGroups> Chosen(bool normalized) => ImportanceSelection.Choose(net, layers, importance, costs,
            TestData.Settings(options).Pruning, plans => Macs(plans) <= 0.8 * full, normalized);

        var raw = Chosen(false);
        Assert.Equal(64, raw["conv6"].Outputs!.Length);                     // raw: its scale spares it
        var normalized = Chosen(true);
        Assert.True(Macs(PruningPlanner.Plan(net, new PruningSettings(0, options.ChannelGroup), normalized)) <= 0.8 * full);
        Assert.InRange(normalized["conv6"].Outputs!.Length, 1, 63);         // normalised: it is ranked as any other
        Assert.DoesNotContain(0L, normalized["conv6"].Outputs!);            // and its least important channel goes first
    }

    [Fact]
    public void AResidualStreamWeighsOneShareForEveryLayerWhoseChannelsItRemoves()
    {
        // Every group of every layer equally important: each layer's shares are alike. A stream's channel removes the
        // output channels of all its members (and the inputs of their readers), so it costs several times an inner
        // channel; weighed as one layer it would go first, weighed as its members it goes after the inner channels.
        var options = new EdpCompressOptions { Architecture = EdpArchitecture.ResNet20, TargetMacsRatio = 0.9, ChannelMultiple = 1 };
        var (net, layers, importance, full) = NetworkWithImportance(options, (layer, channel)
            => Enumerable.Repeat(1f, (int)(channel ? layer.Weight.OutChannels : layer.Weight.Rank)).ToArray());
        using var _ = net;
        var streams = layers.Where(l => l.StreamMembers > 1).ToList();
        Assert.Equal(["stem", "s2b1_conv2", "s3b1_conv2"], streams.Select(l => l.Name));
        Assert.All(streams, l => Assert.Equal(4, l.StreamMembers));
        var chosen = ImportanceSelection.Choose(net, layers, importance, GroupCosts.Of(net.Graph), TestData.Settings(options).Pruning,
            plans => Macs(plans) <= 0.9 * full);
        Assert.True(Macs(PruningPlanner.Plan(net, TestData.Settings(options).Pruning, chosen)) <= 0.9 * full);
        Assert.All(streams, l => Assert.Equal(l.Weight.OutChannels, chosen[l.Name].Outputs!.Length));
        Assert.Contains(layers.Where(l => l.HasChannelGroups).Except(streams), l => chosen[l.Name].Outputs!.Length < l.Weight.OutChannels);
    }

    [Fact]
    public void ClosingTheLastGapMeetsTheBudgetAndCanKeepMoreThanTheShortestPrefix()
    {
        // With kept counts in blocks of 16, the prefix's last group can drop a whole block to close a small gap.
        var options = new EdpCompressOptions { TargetMacsRatio = 0.5, ChannelMultiple = 16 };
        int closer = 0;
        for (int seed = 0; seed < 12; seed++)
        {
            var random = new Random(seed);
            var (net, layers, importance, full) = NetworkWithImportance(options, (layer, channel)
                => Enumerable.Range(0, (int)(channel ? layer.Weight.OutChannels : layer.Weight.Rank)).Select(_ => (float)random.NextDouble()).ToArray());
            using var _ = net;
            var pruning = TestData.Settings(options).Pruning;
            long Cut(Dictionary<string, KeptGroups> chosen) => Macs(PruningPlanner.Plan(net, pruning, chosen));
            Dictionary<string, KeptGroups> Chosen(bool close) => ImportanceSelection.Choose(net, layers, importance, GroupCosts.Of(net.Graph), pruning,
                plans => Macs(plans) <= 0.5 * full, closeLastGap: close);
            long prefix = Cut(Chosen(false)), closed = Cut(Chosen(true));
            Assert.True(closed <= 0.5 * full);
            closer += closed > prefix ? 1 : 0;
        }
        Assert.True(closer > 0);
    }

    [Fact]
    public void SelectionRoundsKeptChannelsUpToTheMultiple()
    {
        var options = new EdpCompressOptions { TargetMacsRatio = 0.6, ChannelMultiple = 8 };
        var random = new Random(3);
        var (net, layers, importance, full) = NetworkWithImportance(options, (layer, channel)
            => Enumerable.Range(0, (int)(channel ? layer.Weight.OutChannels : layer.Weight.Rank)).Select(_ => (float)random.NextDouble()).ToArray());
        using var _ = net;
        var chosen = ImportanceSelection.Choose(net, layers, importance, GroupCosts.Of(net.Graph), TestData.Settings(options).Pruning,
            plans => Macs(plans) <= 0.6 * full);
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, options.ChannelGroup, 8), chosen);
        Assert.True(Macs(plans) <= 0.6 * full);
        Assert.All(plans.Where(p => p.Name != "classifier"), p => Assert.Equal(0, p.KeptOutputs.Length % 8));
    }
}
