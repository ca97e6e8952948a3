using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

public class ProximalGroupLassoTests
{
    [Fact]
    public void ChannelStepZeroesSmallGroupsAndScalesTheOthersExactly()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(3, 2, 1, 1), EdpCoefficientInit.Identity);
        using var bn = nn.BatchNorm2d(3);
        using (no_grad())
        {
            cab.coefficients.copy_(tensor(new float[] { 3, 0, 0, 0.05f, 0, 0 }, [3, 2]));
            bn.weight!.copy_(tensor(new float[] { 4, 0.05f, 0 }));
            bn.bias!.copy_(tensor(new float[] { 0, 0, 0 }));
        }
        // Row norms: 5 (3 with gamma 4), ~0.0707, 0. Shrink 0.5 keeps row 0 scaled by 1 - 0.5/5 = 0.9.
        new ProximalGroupLasso([new("c", cab, true, ChannelUnits.Singles(cab.OutChannels), bn)]).Step(rankShrink: 0, channelShrink: 0.5);
        var a = cab.coefficients.data<float>().ToArray();
        Assert.Equal(new[] { 2.7f, 0, 0, 0, 0, 0 }, a, new FloatTolerance(1e-6f));
        Assert.Equal(new[] { 3.6f, 0, 0 }, bn.weight!.data<float>().ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(0, cab.coefficients[1].abs().sum().item<float>());
    }

    /// <summary>A compressed layer that trains plain (<see cref="EdpCompressOptions.Decompose"/> false) has its filters as
    /// channel groups, each with its BN, and no rank groups, so a rank shrink leaves it alone.</summary>
    [Fact]
    public void ChannelStepOnAPlainLayerShrinksWholeFiltersWithTheirBatchNorm()
    {
        using var plain = new PlainWeight("w", zeros(2, 1, 2, 2));
        using var bn = nn.BatchNorm2d(2);
        using (no_grad())
        {
            plain.weight.copy_(tensor(new float[] { 1, 1, 1, 1, 0.1f, 0, 0, 0 }, [2, 1, 2, 2]));
            bn.weight!.copy_(tensor(new float[] { 1, 0.1f }));
            bn.bias!.copy_(tensor(new float[] { 0, 0.1f }));
        }
        var prox = new ProximalGroupLasso([new("w", plain, true, ChannelUnits.Singles(2), bn)]);
        prox.Step(rankShrink: 1, channelShrink: 0);
        Assert.Equal(new[] { 1f, 1, 1, 1, 0.1f, 0, 0, 0 }, plain.weight.data<float>().ToArray());
        // Filter 0 with its BN has norm sqrt(5); filter 1 sqrt(0.03), under the shrink 0.5.
        prox.Step(rankShrink: 0, channelShrink: 0.5);
        float scale = 1 - 0.5f / MathF.Sqrt(5);
        Assert.Equal(new[] { scale, scale, scale, scale, 0, 0, 0, 0 }, plain.weight.data<float>().ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(new[] { scale, 0 }, bn.weight!.data<float>().ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(new[] { 0f, 0 }, bn.bias!.data<float>().ToArray());
    }

    [Fact]
    public void RankStepShrinksColumnsOnly()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(2, 2, 1, 1), EdpCoefficientInit.Identity);
        using (no_grad())
            cab.coefficients.copy_(tensor(new float[] { 3, 0.1f, 4, 0 }, [2, 2]));
        // Column norms 5 and 0.1; shrink 1 scales column 0 by 0.8 and zeroes column 1.
        new ProximalGroupLasso([new("c", cab, false, ChannelUnits.Singles(cab.OutChannels))]).Step(rankShrink: 1, channelShrink: 1);
        Assert.Equal(new[] { 2.4f, 0, 3.2f, 0 }, cab.coefficients.data<float>().ToArray(), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void GroupWeightsScaleTheShrink()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(4, 1, 1, 1), EdpCoefficientInit.Identity);
        using (no_grad())
            cab.coefficients.copy_(tensor(new float[] { 10, 0, 0, 0 }, [4, 1]));
        new ProximalGroupLasso([new("c", cab, false, ChannelUnits.Singles(cab.OutChannels))], weights: [new(Rank: [2f])]).Step(rankShrink: 1, channelShrink: 0);
        Assert.Equal(8f, cab.coefficients[0, 0].item<float>(), 1e-5f); // 10 * (1 - 1 * 2 / 10)
    }

    [Fact]
    public void FrozenPatternKeepsZeroGroupsZeroAndStopsShrinking()
    {
        using var cab = CompressedWeight.FromWeight("c", zeros(2, 2, 1, 1), EdpCoefficientInit.Identity);
        var prox = new ProximalGroupLasso([new("c", cab, false, ChannelUnits.Singles(cab.OutChannels))]);
        using (no_grad())
            cab.coefficients.copy_(tensor(new float[] { 3, 0, 4, 0 }, [2, 2]));
        prox.Freeze();
        using (no_grad())
            cab.coefficients.add_(1); // an optimizer step that would revive column 1
        prox.Step(rankShrink: 1, channelShrink: 1);
        Assert.Equal(new[] { 4f, 0, 5f, 0 }, cab.coefficients.data<float>().ToArray());
    }

    [Fact]
    public void CostWeightsFollowTheMacsEachGroupCarries()
    {
        var spec = Architectures.Build(TestData.Settings(new EdpCompressOptions()).Network, 10);
        var costs = GroupCosts.Of(spec);
        Assert.Equal(1 * 9 * 784 + 16 * 784, costs["conv1"].Rank);        // basis filter + its coefficients at 28x28
        Assert.Equal(1 * 9 * 784 + 16 * 9 * 784, costs["conv1"].Channel); // own filter + slice of conv2
        Assert.Equal(64 * 9 * 49 + 10, costs["conv6"].Channel);           // own filter + classifier column
    }

    [Theory]
    [InlineData(0.0, 0.5, 0.0)]
    [InlineData(0.25, 0.5, 0.5)]
    [InlineData(0.5, 0.5, 1.0)]
    [InlineData(0.9, 0.5, 1.0)]
    public void RampGoesFromZeroToOne(double progress, double fraction, double expected)
        => Assert.Equal(expected, SparsityRamp.At(progress, fraction), 1e-9);
}

internal sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(float obj) => 0;
}
