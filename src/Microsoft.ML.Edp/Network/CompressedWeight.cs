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
        // The factors are this block's own (made for it below): the parameters take their storage, and the factors'
        // handles go, so that disposing the network frees every tensor it made.
        using (a)
        using (b)
        {
            coefficients = nn.Parameter(a.contiguous());
            basis = nn.Parameter(b.contiguous());
        }
        _shape = shape;
        RegisterComponents();
    }

    public override long OutChannels => _shape[0];
    public override long Rank => basis.shape[0];
    public override Parameter Rows => coefficients;
    public override Parameter? Columns => coefficients;

    public override Tensor Compose() => coefficients.mm(basis.flatten(1)).view(_shape);

    /// <summary>A CAB that computes exactly what a plain layer with weight <paramref name="weight"/> computes.</summary>
    /// <remarks>With r = n (possible when n &lt;= c*k*k), A starts as the identity (or a random orthogonal Q with
    /// B = Q^T W). Otherwise the rank is capped at c*k*k and the block starts from the SVD of W, which is exact
    /// because rank(W) &lt;= c*k*k.</remarks>
    public static CompressedWeight FromWeight(string name, Tensor weight, EdpCoefficientInit init)
    {
        long n = weight.shape[0], fanIn = weight.numel() / n;
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
            var w = weight.detach().flatten(1).to(ScalarType.Float64);
            var (a64, b64) = Factors(linalg.svd(w, fullMatrices: false), rank);
            if (!Reproduces(w, a64, b64, rank))
            {
                (a64, b64) = Factors(SvdFromGram(w), rank);
                if (!Reproduces(w, a64, b64, rank))
                    throw new InvalidOperationException(
                        $"No SVD of a {string.Join("x", weight.shape)} weight reproduces it (libtorch's LAPACK gesdd and syevd both failed on this machine): max error {(a64.mm(b64) - w).abs().max().item<double>():G3} on weights up to {w.abs().max().item<double>():G3}.");
            }
            var bShape = weight.shape.ToArray();
            bShape[0] = a64.shape[1];
            a = a64.to(ScalarType.Float32).MoveToOuterDisposeScope();
            b = b64.to(ScalarType.Float32).view(bShape).MoveToOuterDisposeScope();
        }
        return new CompressedWeight(name, a, b, weight.shape);
    }

    private static (Tensor A, Tensor B) Factors((Tensor U, Tensor S, Tensor Vh) svd, long rank)
    {
        rank = Math.Min(rank, svd.S.shape[0]);
        var root = svd.S.narrow(0, 0, rank).sqrt();
        return (svd.U.narrow(1, 0, rank) * root.unsqueeze(0), svd.Vh.narrow(0, 0, rank) * root.unsqueeze(1));
    }

    /// <summary>A full-rank start must compute what the layer computed, so LAPACK's SVD is checked rather than trusted: a
    /// factorisation that went wrong would otherwise show up only as a NaN loss. A truncated start approximates by design.</summary>
    private static bool Reproduces(Tensor w, Tensor a, Tensor b, long rank)
    {
        if (rank < Math.Min(w.shape[0], w.shape[1]))
            return a.isfinite().all().item<bool>() && b.isfinite().all().item<bool>();
        double error = (a.mm(b) - w).abs().max().item<double>(), scale = w.abs().max().item<double>();
        return error <= 1e-6 * Math.Max(scale, 1e-30); // NaN fails
    }

    /// <summary>The SVD by another LAPACK route: the symmetric eigendecomposition of W^T W gives V and S^2, and U = W V / S
    /// (zero where S is). Squaring costs precision in the smallest singular values, far below the check's 1e-6.</summary>
    internal static (Tensor U, Tensor S, Tensor Vh) SvdFromGram(Tensor w)
    {
        var (eigenvalues, v) = linalg.eigh(w.t().mm(w));
        var order = eigenvalues.argsort(descending: true);
        var s = eigenvalues.index_select(0, order).clamp_min(0).sqrt();
        v = v.index_select(1, order);
        var inverse = where(s > s.max() * 1e-12, 1 / s, zeros_like(s));
        return (w.mm(v) * inverse.unsqueeze(0), s, v.t());
    }
}
