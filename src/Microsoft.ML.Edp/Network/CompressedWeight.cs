using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>The compressed-aware block (CAB): a basis layer B [r, c, k, k] (or [r, c]) followed by a coefficient
/// layer A [n, r] acting as a 1x1 conv. The group penalties act on A only: its columns are the rank groups, its rows
/// the channel groups.</summary>
/// <remarks>Training composes W = A.B and runs one conv. That is the same function with the same gradients for A and
/// B as running B then A, since there is no nonlinearity between them, and it costs one conv instead of two. The
/// exported graph runs B then A wherever Pruning &amp; Merging keeps the pair.</remarks>
internal sealed class CompressedWeight : LayerWeight
{
    public Parameter basis;
    public Parameter coefficients;
    private readonly long[] _shape;

    private CompressedWeight(string name, Tensor a, Tensor b, long[] shape) : base(name)
    {
        coefficients = nn.Parameter(a.contiguous());
        basis = nn.Parameter(b.contiguous());
        _shape = shape;
        RegisterComponents();
    }

    public long OutChannels => _shape[0];
    public long Rank => basis.shape[0];

    public override Tensor Compose() => coefficients.mm(basis.flatten(1)).view(_shape);

    /// <summary>A CAB that computes exactly what a plain layer with weight <paramref name="weight"/> computes.</summary>
    /// <remarks>With r = n (possible when n &lt;= c*k*k), A starts as the identity (or a random orthogonal Q with
    /// B = Q^T W). Otherwise the rank is capped at c*k*k and the block starts from the SVD of W, which is exact
    /// because rank(W) &lt;= c*k*k.</remarks>
    public static CompressedWeight FromWeight(string name, Tensor weight, EdpCoefficientInit init)
    {
        long n = weight.shape[0], fanIn = weight[0].numel();
        if (n > fanIn)
            return FromSvd(name, weight, fanIn);
        Tensor a, b;
        using (NewDisposeScope())
        {
            var q = init == EdpCoefficientInit.Identity ? eye(n) : linalg.qr(randn(n, n)).Item1;
            b = q.t().mm(weight.detach().flatten(1)).view(weight.shape).MoveToOuterDisposeScope();
            a = q.MoveToOuterDisposeScope();
        }
        return new CompressedWeight(name, a, b, weight.shape);
    }

    /// <summary>The SVD start W = U S V^T, with A = U S^1/2 and B = S^1/2 V^T truncated to <paramref name="rank"/>.</summary>
    public static CompressedWeight FromSvd(string name, Tensor weight, long rank)
    {
        Tensor a, b;
        using (NewDisposeScope())
        {
            var (u, s, vh) = linalg.svd(weight.detach().flatten(1).to(ScalarType.Float64), fullMatrices: false);
            rank = Math.Min(rank, s.shape[0]);
            var root = s.narrow(0, 0, rank).sqrt();
            var bShape = weight.shape.ToArray();
            bShape[0] = rank;
            var a64 = u.narrow(1, 0, rank) * root.unsqueeze(0);
            var b64 = vh.narrow(0, 0, rank) * root.unsqueeze(1);
            CheckFactors(weight, a64, b64, rank);
            a = a64.to(ScalarType.Float32).MoveToOuterDisposeScope();
            b = b64.to(ScalarType.Float32).view(bShape).MoveToOuterDisposeScope();
        }
        return new CompressedWeight(name, a, b, weight.shape);
    }

    /// <summary>A full-rank start must compute what the layer computed: LAPACK's SVD is checked rather than trusted, so
    /// that a factorisation that went wrong stops the fit here, with the layer named, and not as a NaN loss later.</summary>
    private static void CheckFactors(Tensor weight, Tensor a, Tensor b, long rank)
    {
        if (rank < Math.Min(weight.shape[0], weight[0].numel()))
            return; // a truncated start is an approximation by design
        var w = weight.detach().flatten(1).to(ScalarType.Float64);
        double error = (a.mm(b) - w).abs().max().item<double>(), scale = w.abs().max().item<double>();
        if (!(error <= 1e-6 * Math.Max(scale, 1e-30)))
            throw new InvalidOperationException(
                $"The SVD of a {string.Join("x", weight.shape)} weight does not reproduce its weights: max error {error:G3} on weights up to {scale:G3}, expected at most 1e-6 of that. libtorch's LAPACK computed a wrong factorisation on this machine.");
    }
}
