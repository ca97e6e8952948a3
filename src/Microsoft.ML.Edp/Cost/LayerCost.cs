namespace Microsoft.ML.Edp.Cost;

/// <summary>Parameters and multiply-accumulates of one layer for one image, computed from its shapes.</summary>
/// <remarks>Parameters count weights, BN gamma and beta (2 per channel, in place of a bias) and a classifier bias;
/// MACs count conv and linear products only, so the uncompressed VGG-S has 72,666 parameters and 7.34M MACs.</remarks>
internal readonly record struct LayerCost(long Params, long Macs)
{
    /// <summary>Sum of two costs.</summary>
    public static LayerCost operator +(LayerCost a, LayerCost b) => new(a.Params + b.Params, a.Macs + b.Macs);

    /// <summary>A k x k conv from c to n channels at an output of <paramref name="outputPixels"/> pixels, with
    /// <paramref name="perChannel"/> parameters per output channel (2 for BN's gamma and beta, 1 more for a bias);
    /// with <paramref name="rank"/>, the unmerged CAB pair (basis r x c x k x k, then coefficients n x r).</summary>
    public static LayerCost Conv(long n, long c, long k, long outputPixels, long? rank = null, int perChannel = 2)
    {
        long weights = rank is long r ? r * c * k * k + n * r : n * c * k * k;
        return new LayerCost(weights + perChannel * n, weights * outputPixels);
    }

    /// <summary>A linear layer from c to n features with a bias (<paramref name="perChannel"/> 1); with
    /// <paramref name="rank"/>, the unmerged CAB pair.</summary>
    public static LayerCost Linear(long n, long c, long? rank = null, int perChannel = 1)
    {
        long weights = rank is long r ? r * c + n * r : n * c;
        return new LayerCost(weights + perChannel * n, weights);
    }

    /// <summary>The merge rule: keep the pair only when it is cheaper than one layer, r (c k^2 + n) &lt; n c k^2.</summary>
    public static bool PairIsCheaper(long n, long c, long kernelArea, long rank) => rank * (c * kernelArea + n) < n * c * kernelArea;
}
