using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.Edp.Training;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The units and parts a layer's channels are removed in (<see cref="ChannelUnits"/>): what a grouped conv
/// ties, what a Split requires, and that selections keep them.</summary>
public class ChannelUnitsTests
{
    [Fact]
    public void CompletionKeepsWholeUnitsAChannelOfEveryPartAndRoundsUpByUnits()
    {
        // Channels 0-3 in two units of two, as a conv of 2 groups of 2 ties them; 4 and 5 alone, a Split part.
        var units = new ChannelUnits([0, 1, 0, 1, 2, 3], [[4, 5]]);
        int[] bestFirst = [1, 3, 0, 2];
        Assert.Equal([1L, 3, 5], units.Complete([1], bestFirst, 1));     // the part gets back its best unit
        Assert.Equal([1L, 3, 5], units.Complete([], bestFirst, 1));      // the best unit survives
        Assert.Equal([1L, 3, 4, 5], units.Complete([1, 2], bestFirst, 4)); // 3 channels; unit 3 makes 4
        Assert.Equal([0L, 1, 2, 3, 4, 5], units.Complete([1, 2], bestFirst, 5)); // 4, 6: no multiple of 5 short of all

        var pairs = new ChannelUnits([0, 1, 0, 1, 2, 2, 3, 3], []);
        Assert.Equal([1L, 3, 6, 7], pairs.Complete([1], [1, 3, 0, 2], 4));
    }

    [Fact]
    public void SelectionKeepsUnitsByTheirNormAndTiedValuesSumOverAUnit()
    {
        var units = new ChannelUnits([0, 1, 0, 1, 2, 2, 3, 3], []);
        using var perChannel = TorchSharp.torch.tensor(new float[] { 1, 2, 3, 4, 0, 0, 5, 0 });
        Assert.Equal([4f, 6, 4, 6, 0, 0, 5, 5], units.Tied(perChannel).data<float>().ToArray());
        float[] norms = [0.5f, 2, 0.5f, 2, 0, 0, 1, 1];
        Assert.Equal([0L, 1, 2, 3, 6, 7], GroupSelection.Keep(norms, 0, units: units));
        Assert.Equal([1L, 3], GroupSelection.Keep(norms, 0.6, units: units));
        Assert.Equal([1L, 3, 6, 7], GroupSelection.Keep(norms, 0.6, multiple: 4, units: units));
    }

    [Fact]
    public void TheProximalStepShrinksAUnitAsOneGroup()
    {
        using var cab = CompressedWeight.FromWeight("c", TorchSharp.torch.zeros(4, 1, 1, 1), EdpCoefficientInit.Identity);
        using (TorchSharp.torch.no_grad())
            cab.coefficients.copy_(TorchSharp.torch.tensor(new float[] { 3, 0.1f, 4, 0.1f }, [4, 1]));
        // Units {0, 2} (norm 5) and {1, 3} (norm 0.14): shrink 0.5 scales the first by 0.9 and zeroes the second. Apart,
        // rows 0 and 2 would have been scaled by 1 - 0.5/3 and 1 - 0.5/4.
        new ProximalGroupLasso([new("c", cab, true, Units: new ChannelUnits([0, 1, 0, 1], []))]).Step(rankShrink: 0, channelShrink: 0.5);
        Assert.Equal([2.7f, 0, 3.6f, 0], cab.coefficients.data<float>().ToArray(), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void AUnitShrinksAsHardAsItsChannelsWouldApart()
    {
        var model = OnnxPatternModels.Build("grouped-block", 13);
        using var net = new EdpNet(ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false));
        var layers = LayerGroups.Of(net);
        var weights = PenaltyWeights.For(layers, net.Graph, EdpPenaltyWeighting.Uniform)!.Zip(layers).ToDictionary(w => w.Second.Name, w => w.First);
        Assert.All(weights["features_3_Conv"].Channel!, w => Assert.Equal(2f, w)); // units of 4 channels
        Assert.All(weights["features_9_Conv"].Channel!, w => Assert.Equal(1f, w));
        Assert.Null(weights["features_3_Conv"].Rank);
    }

    [Fact]
    public void AGroupedConvTiesItsInputsAtOnePlaceInEveryGroupOrAWholeGroupWhereItsChannelsFollow()
    {
        // 8 channels into 2 groups of 4, each writing 8: channel j goes with channel 4 + j.
        var stem = Couplings("grouped-conv")["features_0_Conv"];
        Assert.True(stem.Prunable);
        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 3], stem.Units.UnitOf);
        Assert.Contains(stem.Consumers, c => c.Name == "features_3_Conv");

        // 16 channels into 4 groups of 4 in and out: the grouped conv follows, losing whole groups.
        var expand = Couplings("grouped-block")["features_3_Conv"];
        Assert.True(expand.Prunable);
        Assert.Equal(Enumerable.Range(0, 16).Select(c => c / 4), expand.Units.UnitOf);
        Assert.Equal("features_6_Conv", Assert.Single(expand.Followers).Conv.Name);
        Assert.Equal(["features_9_Conv"], expand.Consumers.Select(c => c.Name));
    }

    [Fact]
    public void AGroupedConvThatMixesTwoLayersChannelsInAGroupLeavesThemTheirWidth()
    {
        // A Concat of two 4-channel convs read by a conv in 2 groups of 4 places each: place j of both groups holds one
        // channel of each conv, which neither can remove alone. In groups of 4 in and out, each group is one conv's.
        Assert.All(Couplings(MixedGroups(outChannels: 4)).Where(c => c.Key is "a" or "b"), c => Assert.False(c.Value.Prunable));
        Assert.All(Couplings(MixedGroups(outChannels: 8)).Where(c => c.Key is "a" or "b"), c => Assert.True(c.Value.Prunable));
    }

    [Fact]
    public void ASplitPartIsTheChannelsItHoldsAndAShufflePassesThemAll()
    {
        Assert.Equal([[0L, 1, 2, 3, 4, 5], [.. Enumerable.Range(6, 10).Select(c => (long)c)]], Couplings("split")["features_0_Conv"].Units.Parts);
        // The shuffle's input is the Concat of the Split's first half and the branch: a permutation of all 16.
        var branch = Couplings("channel-shuffle")["features_8_Conv"];
        Assert.True(branch.Prunable);
        Assert.Empty(branch.Units.Parts);
    }

    [Fact]
    public void APickedChannelIsRenumberedAmongTheKeptInputs()
    {
        // A shuffle of 6 channels in 2 groups picks [0, 3, 1, 4, 2, 5]; inputs 1 and 4 are gone, so places 2 and 3 are.
        Assert.Equal([0L, 2, 1, 3], LayerSurgery.KeepPicked([0, 3, 1, 4, 2, 5], [0, 2, 3, 5], [0, 1, 4, 5]));
        Assert.Throws<InvalidOperationException>(() => LayerSurgery.KeepPicked([0, 3, 1, 4, 2, 5], [0, 2, 3, 5], [2]));
    }

    private static Dictionary<string, ChannelCoupling> Couplings(string pattern)
    {
        var model = OnnxPatternModels.Build(pattern, 13);
        return Couplings(ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false));
    }

    private static Dictionary<string, ChannelCoupling> Couplings(NetworkGraph graph) => ChannelCoupling.Analyse(graph).ToDictionary(c => c.Layer.Name);

    /// <summary>Two 4-channel convs concatenated and read by a 3x3 conv in 2 groups of 4 inputs.</summary>
    private static NetworkGraph MixedGroups(int outChannels) => new(1, 8, 8,
    [
        new ConvLayer("a", NetworkGraph.InputName, 1, 4, 3, 1, 1, Compressed: true),
        new ConvLayer("b", NetworkGraph.InputName, 1, 4, 3, 1, 1, Compressed: true),
        new ConcatLayer("ab", ["a", "b"]),
        new ConvLayer("grouped", "ab", 8, outChannels, 3, 1, 1, Compressed: false, Groups: 2),
        new GlobalPoolLayer("pool", "grouped"),
        new LinearLayer("fc", "pool", outChannels, 10, Compressed: true),
    ], "fc", 10);
}
