using Microsoft.ML.Edp.Network;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

public class CompressedBlockTests
{
    [Theory]
    [InlineData(16, 16, EdpCoefficientInit.Identity)]        // r = n: A = I
    [InlineData(16, 1, EdpCoefficientInit.Identity)]         // n > c*k*k = 9: rank capped, SVD start
    [InlineData(32, 16, EdpCoefficientInit.RandomOrthogonal)]
    public void UntrainedBlockComputesThePlainLayer(int n, int c, EdpCoefficientInit init)
    {
        random.manual_seed(3);
        var plain = LayerWeight.InitialWeight([n, c, 3, 3]);
        using var cab = CompressedWeight.FromWeight("cab", plain, init);
        var x = randn(4, c, 12, 12);
        var expected = nn.functional.conv2d(x, plain, padding: [1, 1]);
        // B then A as two convs, as the exported pair runs.
        var pair = nn.functional.conv2d(nn.functional.conv2d(x, cab.basis, padding: [1, 1]), cab.coefficients.view(n, cab.Rank, 1, 1));
        Assert.Equal(Math.Min(n, c * 9), cab.Rank);
        Assert.True((pair - expected).abs().max().item<float>() < 1e-5f);
        Assert.True((cab.Compose() - plain).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void IdentityStartHasIdentityCoefficients()
    {
        var plain = LayerWeight.InitialWeight([8, 4, 3, 3]);
        using var cab = CompressedWeight.FromWeight("cab", plain, EdpCoefficientInit.Identity);
        Assert.Equal(0f, (cab.coefficients - eye(8)).abs().max().item<float>());
        Assert.Equal(0f, (cab.basis - plain).abs().max().item<float>());
    }

    [Fact]
    public void SvdStartReproducesTheWeightAtFullRank()
    {
        random.manual_seed(5);
        var w = randn(24, 6, 3, 3);
        using var cab = CompressedWeight.FromSvd("svd", w, 24);
        Assert.Equal(24, cab.Rank);
        Assert.True((cab.Compose() - w).abs().max().item<float>() < 1e-4f);

        using var truncated = CompressedWeight.FromSvd("svd4", w, 4);
        Assert.Equal(4, truncated.Rank);
        Assert.True((truncated.Compose() - w).abs().max().item<float>() > 1e-2f, "a rank-4 truncation of a random 24x54 matrix cannot be exact");
    }

    [Theory]
    [InlineData(64, 16)]
    [InlineData(16, 64)]
    public void TheFallbackSvdThroughTheGramMatrixFactorsTheWeight(int rows, int columns)
    {
        random.manual_seed(6);
        var w = randn(rows, columns, dtype: ScalarType.Float64);
        w[0] = zeros(columns, dtype: ScalarType.Float64); // a dead channel, as trained networks have

        var (u, s, vh) = CompressedWeight.SvdFromGram(w);

        Assert.True((u.mm(diag(s)).mm(vh) - w).abs().max().item<double>() < 1e-9);
        var reference = linalg.svd(w, fullMatrices: false).Item2;
        // Squaring the matrix costs precision in the smallest singular values: zero comes back as about 1e-8 of the largest.
        Assert.True((s.narrow(0, 0, reference.shape[0]) - reference).abs().max().item<double>() < 1e-6 * reference.max().item<double>());
    }
}
