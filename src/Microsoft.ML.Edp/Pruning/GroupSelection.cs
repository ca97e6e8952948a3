namespace Microsoft.ML.Edp.Pruning;

/// <summary>Which groups Pruning &amp; Merging keeps.</summary>
internal static class GroupSelection
{
    /// <summary>Indices of groups whose norm exceeds <paramref name="relativeThreshold"/> times the largest norm
    /// (so 0 keeps every non-zero group). At least the largest group survives, so a layer never vanishes.</summary>
    public static long[] Keep(IReadOnlyList<float> norms, double relativeThreshold)
    {
        float max = norms.Max();
        double cut = relativeThreshold * max;
        var keep = Enumerable.Range(0, norms.Count).Where(i => norms[i] > cut).Select(i => (long)i).ToArray();
        return keep.Length > 0 ? keep : [Array.IndexOf(norms.ToArray(), max)];
    }

    public static long[] All(long count) => Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
}
