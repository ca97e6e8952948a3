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
        var sites = LayerSite.Of(graph);
        double[] overhead;
        using (var timer = new OrtTimer(Write(TimingGraphs.Overhead(graph.InChannels, graph.Height, graph.Width)), graph.InChannels, graph.Height, graph.Width))
            overhead = batches.Select(b => timer.Median(b, OrtTimer.RunsFor(b))).ToArray();
        var layers = sites.Select(site => new SiteLatency(site.Name, site.Signature, site.InChannels, site.OutChannels,
            Shapes(site, hardware.ConvBlock).Select(s => Time(site, s.In, s.Out, s.Rank, batches, overhead)).ToArray())).ToArray();
        info($"EDP: measured ONNX Runtime latency of {layers.Sum(l => l.Points.Length)} layer shapes at batch {string.Join(" and ", batches)} in {clock.Elapsed.TotalSeconds:F1} s on {hardware}.");
        return new LatencyTable(LatencyTable.CurrentFormat, hardware.CpuVendor, hardware.CpuModel, hardware.ConvBlock, hardware.OnnxRuntimeVersion,
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture), batches.ToArray(), overhead, layers);
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
    /// output width, and, for a compressed-aware block, the pair's ranks at the plain widths.</summary>
    private static IEnumerable<(int In, int Out, int? Rank)> Shapes(LayerSite site, int block)
    {
        foreach (int n in Grid(site.OutChannels, block))
            yield return (site.InChannels, n, null);
        foreach (int c in Grid(site.InChannels, block).Where(c => c != site.InChannels))
            yield return (c, site.OutChannels, null);
        if (site.Compressed)
            foreach (int r in Grid(site.MaxRank, block))
                yield return (site.InChannels, site.OutChannels, r);
    }

    private static LatencyPoint Time(LayerSite site, int inChannels, int outChannels, int? rank, IReadOnlyList<int> batches, double[] overhead)
    {
        using var timer = new OrtTimer(Write(TimingGraphs.Layer(site, inChannels, outChannels, rank)), inChannels, site.Height, site.Width);
        // A layer cheaper than the noise in the fixed cost would come out below zero: it is taken as free.
        var ms = batches.Select((b, i) => Math.Max(0, timer.Median(b, OrtTimer.RunsFor(b)) - overhead[i])).ToArray();
        return new LatencyPoint(inChannels, outChannels, rank, ms);
    }

    private static byte[] Write(InferenceGraph graph) => OnnxModelWriter.Write(graph, new Dictionary<string, string>());
}
