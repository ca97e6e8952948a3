using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Pruning;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.Edp.Tests;

public class LayerSurgeryTests
{
    [Fact]
    public void MergedConvEqualsTheBasisThenCoefficientPair()
    {
        random.manual_seed(7);
        var basis = randn(5, 8, 3, 3);
        var coefficients = randn(12, 5);
        var x = randn(2, 8, 10, 10);
        var pair = F.conv2d(F.conv2d(x, basis, padding: [1, 1]), coefficients.view(12, 5, 1, 1));
        var merged = F.conv2d(x, LayerSurgery.Merge(coefficients, basis), padding: [1, 1]);
        Assert.True((pair - merged).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void FoldedBatchNormEqualsConvThenInferenceBatchNorm()
    {
        random.manual_seed(8);
        var w = randn(6, 3, 3, 3);
        var (gamma, beta, mean, variance) = (randn(6), randn(6), randn(6), rand(6) + 0.5);
        var x = randn(2, 3, 9, 9);
        var expected = F.batch_norm(F.conv2d(x, w, padding: [1, 1]), mean, variance, gamma, beta, training: false, eps: 1e-5);
        var (fw, fb) = LayerSurgery.FoldBatchNorm(w, null, gamma, beta, mean, variance, 1e-5);
        var actual = F.conv2d(x, fw, fb, padding: [1, 1]);
        Assert.True((expected - actual).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void KeepOutputsAndInputsSelectTheGivenChannels()
    {
        var w = arange(24f).view(4, 3, 2);
        var kept = LayerSurgery.KeepInputs(LayerSurgery.KeepOutputs(w, [0, 3]), [2]);
        Assert.Equal(new long[] { 2, 1, 2 }, kept.shape);
        Assert.Equal(new float[] { 4, 5, 22, 23 }, kept.data<float>().ToArray());
    }

    [Theory]
    [InlineData(16, 16, 9, 16, false)]  // full rank: the pair costs more than one conv
    [InlineData(16, 16, 9, 5, true)]    // 5 * (144 + 16) = 800 < 2304
    [InlineData(64, 64, 9, 57, true)]   // 57 * 640 = 36480 < 36864
    [InlineData(64, 64, 9, 58, false)]  // 58 * 640 = 37120 >= 36864
    public void MergeRuleComparesPairAndSingleCost(long n, long c, long area, long rank, bool pairCheaper)
        => Assert.Equal(pairCheaper, LayerCost.PairIsCheaper(n, c, area, rank));

    [Fact]
    public void GroupSelectionKeepsGroupsAboveTheRelativeThresholdAndRoundsUpByNorm()
    {
        float[] norms = [0, 5, 0.04f, 2, 0, 0.06f, 1, 0, 0, 3];
        Assert.Equal([1L, 2, 3, 5, 6, 9], GroupSelection.Keep(norms, 0));
        Assert.Equal([1L, 3, 5, 6, 9], GroupSelection.Keep(norms, 0.01));          // 0.04 <= 0.05
        Assert.Equal([0L, 1, 2, 3, 4, 5, 6, 9], GroupSelection.Keep(norms, 0.01, multiple: 8)); // adds 0.04, then zeros by index
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), GroupSelection.Keep(norms, 0.5, multiple: 16)); // capped at all
        Assert.Equal([1L], GroupSelection.Keep([0f, 2, 1], 0.9));                   // the largest always survives
    }

    [Fact]
    public void VggSmallCostMatchesThePublishedCounts()
    {
        var net = new Network.EdpNet(Network.Architectures.Build(TestData.Settings(new EdpCompressOptions { Compress = false }).Network, 10));
        var plans = PruningPlanner.Plan(net, new PruningSettings(0, TrainedNetFixture.StrongOptions.ChannelGroup));
        Assert.Equal(72_666, plans.Sum(p => p.Before.Params));
        Assert.Equal(7_338_880, plans.Sum(p => p.Before.Macs));
        Assert.Equal(plans.Sum(p => p.Before.Macs), plans.Sum(p => p.After.Macs));
    }
}
