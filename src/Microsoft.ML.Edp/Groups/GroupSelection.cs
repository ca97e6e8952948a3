namespace Microsoft.ML.Edp.Groups;

/// <summary>Which groups Pruning &amp; Merging keeps.</summary>
internal static class GroupSelection
{
    /// <summary>Indices of groups whose norm exceeds <paramref name="relativeThreshold"/> times the largest norm
    /// (so 0 keeps every non-zero group). At least the largest group survives, so a layer never vanishes.</summary>
    /// <param name="norms">The groups' norms; a channel tied in a unit has its unit's (<see cref="ChannelUnits.Tied"/>).</param>
    /// <param name="relativeThreshold">Fraction of the largest norm a group must exceed.</param>
    /// <param name="multiple">Round the kept count up to a multiple of this (at most all groups), adding back the
    /// largest of the dropped groups. Added groups were zero or under the threshold, so outputs barely change, and
    /// ONNX Runtime's blocked conv kernels run channel counts that are multiples of 8 much faster.</param>
    /// <param name="units">The units groups are kept or dropped in, and the parts that keep one each (every group
    /// its own unit when null); a part that would keep none gets back its largest unit.</param>
    public static long[] Keep(IReadOnlyList<float> norms, double relativeThreshold, int multiple = 1, ChannelUnits? units = null)
    {
        units ??= ChannelUnits.Singles(norms.Count);
        var unitNorms = units.FirstChannels().Select(c => norms[c]).ToArray();
        double cut = relativeThreshold * unitNorms.Max();
        var bestFirst = Enumerable.Range(0, units.Count).OrderByDescending(u => unitNorms[u]).ThenBy(u => u).ToList();
        return units.Complete(bestFirst.Where(u => unitNorms[u] > cut), bestFirst, multiple);
    }

    public static long[] All(long count) => Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
}
