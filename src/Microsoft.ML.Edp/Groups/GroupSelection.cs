namespace Microsoft.ML.Edp.Groups;

/// <summary>Which groups Pruning &amp; Merging keeps.</summary>
internal static class GroupSelection
{
    /// <summary>Indices of groups whose norm exceeds <paramref name="relativeThreshold"/> times the largest norm
    /// (so 0 keeps every non-zero group). At least the largest group survives, so a layer never vanishes.</summary>
    /// <param name="norms">The groups' norms.</param>
    /// <param name="relativeThreshold">Fraction of the largest norm a group must exceed.</param>
    /// <param name="multiple">Round the kept count up to a multiple of this (at most all groups), adding back the
    /// largest of the dropped groups. Added groups were zero or under the threshold, so outputs barely change, and
    /// ONNX Runtime's blocked conv kernels run channel counts that are multiples of 8 much faster.</param>
    public static long[] Keep(IReadOnlyList<float> norms, double relativeThreshold, int multiple = 1)
    {
        double cut = relativeThreshold * norms.Max();
        int kept = Math.Max(1, norms.Count(n => n > cut));
        int target = Math.Min(norms.Count, (kept + multiple - 1) / multiple * multiple);
        return Enumerable.Range(0, norms.Count).OrderByDescending(i => norms[i]).ThenBy(i => i)
            .Take(target).Order().Select(i => (long)i).ToArray();
    }

    public static long[] All(long count) => Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
}
