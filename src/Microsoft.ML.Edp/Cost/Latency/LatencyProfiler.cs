using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Measures a <see cref="LatencyTable"/> in ONNX Runtime on this machine: each layer at its site on a small
/// grid of widths and ranks, one short model each, so that a VGG-S table takes seconds.</summary>
internal static class LatencyProfiler
{
    /// <summary>At most this many widths along one axis: beyond it the grid steps by whole blocks.</summary>
    private const int MaxGridPoints = 8;

    public static LatencyTable Measure(NetworkGraph graph, IReadOnlyList<int> batches, Hardware hardware, Action<string> info)
    {
        var clock = Stopwatch.StartNew();
        var overhead = TimingGraphs.Overhead(graph.InChannels, graph.Height, graph.Width);
        var overheads = new List<double[]>();
        var layers = new List<SiteLatency>();
        foreach (var site in LayerSite.Of(graph))
        {
            var shapes = Shapes(site, hardware.ConvBlock).ToList();
            var (points, siteOverhead) = Time(site, shapes, overhead, batches);
            layers.Add(new SiteLatency(site.Name, site.Signature, site.InChannels, site.OutChannels, points, site.ChannelsFollowInput));
            overheads.Add(siteOverhead);
        }
        var fixedCost = batches.Select((_, b) => OrtTimer.Median(overheads.Select(o => o[b]))).ToArray();
        info($"EDP: measured ONNX Runtime latency of {layers.Sum(l => l.Points.Length)} layer shapes at batch {string.Join(" and ", batches)} in {clock.Elapsed.TotalSeconds:F1} s on {hardware}.");
        return new LatencyTable(LatencyTable.CurrentFormat, hardware.Cpu, hardware.ConvBlock, hardware.OnnxRuntimeVersion,
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), batches.ToArray(), fixedCost, layers.ToArray());
    }

    /// <summary>Widths from a half block up to <paramref name="full"/> in half-block steps (whole blocks where that
    /// would be more than <see cref="MaxGridPoints"/>), and <paramref name="full"/> itself: the block multiples,
    /// where the kernels are fastest, and the widths between them, where they pad or fall back.</summary>
    public static IReadOnlyList<int> Grid(int full, int block)
    {
        int step = Math.Max(1, block / 2);
        if (full / step > MaxGridPoints)
            step = block;
        var grid = new SortedSet<int> { full };
        for (int w = step; w < full; w += step)
            grid.Add(w);
        return grid.ToList();
    }

    /// <summary>The shapes a site is timed at: output widths at the plain input width, input widths at the plain
    /// output width, and, for a compressed-aware block, the pair's ranks at the plain widths. A grouped conv whose
    /// channels follow its input's (depthwise, ResNeXt's 3x3s) is timed at equal input and output widths of whole
    /// groups (<see cref="GroupWidths"/>); another grouped conv at its plain widths only.</summary>
    internal static IEnumerable<(int In, int Out, int? Rank)> Shapes(LayerSite site, int block)
    {
        // Such a conv narrows with its input, in and out together, a whole group at a time (the planner keeps its groups
        // alike). Another grouped conv keeps its outputs and loses the same places in every group, which the table
        // does not time: it predicts that as no faster.
        if (site.Groups > 1)
        {
            foreach (int n in site.ChannelsFollowInput ? GroupWidths(site, block) : [site.OutChannels])
                yield return (site.ChannelsFollowInput ? n : site.InChannels, n, null);
            yield break;
        }
        foreach (int n in Grid(site.OutChannels, block))
            yield return (site.InChannels, n, null);
        foreach (int c in Grid(site.InChannels, block).Where(c => c != site.InChannels))
            yield return (c, site.OutChannels, null);
        if (site.IsBlock)
            foreach (int r in Grid(site.MaxRank, block))
                yield return (site.InChannels, site.OutChannels, r);
    }

    /// <summary>The widths a conv that loses whole groups is timed at: the grid of <see cref="Grid"/> over its group
    /// counts, in steps of as many groups as make a block (at least one), each group as wide as in the plain conv. For
    /// a depthwise conv (one channel a group) that is the grid of its widths.</summary>
    internal static IEnumerable<int> GroupWidths(LayerSite site, int block)
        => Grid(site.Groups, Math.Max(1, block / site.ChannelsPerGroup)).Select(g => g * site.ChannelsPerGroup);

    /// <summary>Times every shape of one site and the fixed-cost model, round by round, so that a busy spell on a shared
    /// machine slows a site's shapes alike. Each shape's time is its fastest run less the fixed cost's fastest: other
    /// processes only ever add time, and on a shared machine they added 10x to single runs here, enough to move a
    /// median of a few rounds. A layer cheaper than the noise in the fixed cost is taken as free.</summary>
    private static (LatencyPoint[] Points, double[] Overhead) Time(LayerSite site, IReadOnlyList<(int In, int Out, int? Rank)> shapes, NetworkGraph overhead, IReadOnlyList<int> batches)
    {
        var timers = new List<OrtTimer>();
        try
        {
            // The fixed-cost model reads the network's input; the layer models read the site's map.
            timers.Add(new OrtTimer(Write(overhead), overhead.InChannels, overhead.Height, overhead.Width));
            foreach (var (c, n, r) in shapes)
                timers.Add(new OrtTimer(Write(TimingGraphs.Layer(site, c, n, r)), c, site.Height, site.Width));
            var fastest = batches.Select(b => OrtTimer.Interleaved(timers, b, OrtTimer.RunsFor(b)).Select(t => t.Min()).ToArray()).ToArray();
            var points = shapes.Select((s, i) => new LatencyPoint(s.In, s.Out, s.Rank,
                fastest.Select(m => Math.Round(Math.Max(0, m[i + 1] - m[0]), 5)).ToArray())).ToArray();
            return (points, fastest.Select(m => m[0]).ToArray());
        }
        finally
        {
            timers.ForEach(t => t.Dispose());
        }
    }

    private static byte[] Write(NetworkGraph graph) => OnnxModelWriter.Write(graph, new Dictionary<string, string>());
}
