using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Fixed latency tables for VGG-S, injected where a test needs predictions that do not depend on this machine.</summary>
internal static class LatencyTestTables
{
    public static readonly Hardware Machine = new("GenuineTest Test CPU 1", 16, "1.31.0");

    public static NetworkGraph VggSmall() => Architectures.Build(TestData.Settings(new EdpCompressOptions()).Network, 10);

    /// <summary>A table for VGG-S on <see cref="Machine"/> where a width costs what the next multiple of 16 costs, and
    /// widths that are not multiples of 16 cost twice that (ONNX Runtime's fallback); a pair costs its rank's share of
    /// the plain layer plus a fixed 0.05 ms for the tensor between its convs. At each batch size of
    /// <paramref name="batches"/> (default 1 only) every time is the batch-1 time times the batch size.</summary>
    public static LatencyTable Blocked(Hardware? machine = null, int[]? batches = null)
    {
        batches ??= [1];
        double[] PerBatch(double ms) => batches.Select(b => ms * b).ToArray();
        static double Width(int w) => Math.Ceiling(w / 16.0) * 16 * (w % 16 == 0 ? 1 : 2);
        var sites = LayerSite.Of(VggSmall());
        var layers = sites.Select(s =>
        {
            double Plain(int c, int n) => 1e-4 * Width(c) * Width(n);
            var points = new List<LatencyPoint>();
            foreach (int n in new[] { 8, 11, 16, 24, 32, 48, 64 }.Where(n => n < s.OutChannels).Append(s.OutChannels))
                points.Add(new(s.InChannels, n, null, PerBatch(Plain(s.InChannels, n))));
            foreach (int c in new[] { 8, 11, 16, 24, 32, 48, 64 }.Where(c => c < s.InChannels))
                points.Add(new(c, s.OutChannels, null, PerBatch(Plain(c, s.OutChannels))));
            if (s.IsBlock)
                foreach (int r in new[] { 4, 8, 16, 32, 48, 64 }.Where(r => r < s.MaxRank).Append(s.MaxRank))
                    points.Add(new(s.InChannels, s.OutChannels, r, PerBatch(Plain(s.InChannels, s.OutChannels) * r / s.MaxRank + 0.05)));
            return new SiteLatency(s.Name, s.Signature, s.InChannels, s.OutChannels, points.ToArray());
        }).ToArray();
        var m = machine ?? Machine;
        return new LatencyTable(LatencyTable.CurrentFormat, m.Cpu, m.ConvBlock, m.OnnxRuntimeVersion, "2026-12-02 00:00 UTC", batches, PerBatch(0.02), layers);
    }

    /// <summary>A table for any <paramref name="graph"/> on <see cref="Machine"/>, at batch 1, holding the shapes the
    /// profiler would time (<see cref="LatencyProfiler.Shapes"/>) at <paramref name="milliseconds"/> each (site, input
    /// width, output width, rank) instead of measured times.</summary>
    public static LatencyTable Synthetic(NetworkGraph graph, Func<LayerSite, int, int, int?, double> milliseconds)
    {
        var layers = LayerSite.Of(graph).Select(s => new SiteLatency(s.Name, s.Signature, s.InChannels, s.OutChannels,
            LatencyProfiler.Shapes(s, Machine.ConvBlock).Select(p => new LatencyPoint(p.In, p.Out, p.Rank, [milliseconds(s, p.In, p.Out, p.Rank)])).ToArray(),
            s.ChannelsFollowInput)).ToArray();
        return new LatencyTable(LatencyTable.CurrentFormat, Machine.Cpu, Machine.ConvBlock, Machine.OnnxRuntimeVersion, "2026-12-02 00:00 UTC", [1], [0.02], layers);
    }
}
