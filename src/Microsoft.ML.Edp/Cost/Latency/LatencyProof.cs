using System.Globalization;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Groups;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Proof that the compressed model is faster: after export it is timed against the plain network's export in
/// one process, round by round, beside what the latency table predicted for both.</summary>
internal static class LatencyProof
{
    /// <summary>A measured speed-up below this fraction of the predicted one is warned about, with its likely reason.</summary>
    public const double WarnBelowFractionOfPredicted = 0.8;

    /// <summary>A model measured slower than plain is warned about below this speed-up: closer to 1 is the timing's
    /// noise from round to round, which a model that kept everything (both at 1.00x) would otherwise be warned for.</summary>
    public const double WarnSlowerBelow = 0.95;

    public static EdpLatencyReport Run(NetworkGraph graph, IReadOnlyList<LayerPlan> plans, byte[] model, LatencyTables.Loaded loaded,
        IReadOnlyList<int> batches, Hardware hardware, Action<string> info, Action<string> warning)
    {
        var table = loaded.Table;
        var plain = OnnxModelWriter.Write(TimingGraphs.Plain(graph), new Dictionary<string, string>());
        using var plainTimer = new OrtTimer(plain, graph.InChannels, graph.Height, graph.Width);
        using var modelTimer = new OrtTimer(model, graph.InChannels, graph.Height, graph.Width);
        var results = batches.Select(batch =>
        {
            var measured = OrtTimer.InterleavedMedians([plainTimer, modelTimer], batch, rounds: 2 * OrtTimer.RunsFor(batch));
            var predicted = new LatencyCost(table, batch);
            return new EdpBatchLatency
            {
                Batch = batch,
                PredictedPlainMilliseconds = predicted.Before(plans),
                PredictedMilliseconds = predicted.After(plans),
                MeasuredPlainMilliseconds = measured[0],
                MeasuredMilliseconds = measured[1],
            };
        }).ToArray();
        foreach (var r in results)
        {
            info(string.Create(CultureInfo.InvariantCulture, $"EDP: ONNX Runtime at batch {r.Batch}: {r.MeasuredMilliseconds:F3} ms against {r.MeasuredPlainMilliseconds:F3} ms plain, {r.MeasuredSpeedup:F2}x measured, {r.PredictedSpeedup:F2}x predicted."));
            if (WarningFor(r, plans, table, loaded.Source, hardware) is { } message)
                warning(message);
        }
        return new EdpLatencyReport
        {
            ConvBlock = hardware.ConvBlock, OnnxRuntimeVersion = hardware.OnnxRuntimeVersion, TableSource = loaded.Source, TableCpu = table.Cpu, Batches = results,
        };
    }

    /// <summary>The warning one batch's timing calls for, or null: the compressed model ran slower than the plain one
    /// beyond the timing's noise (which a MACs or params budget can give where the table predicted no gain, so the
    /// prediction alone does not catch it), or far below the speed-up the table predicted.</summary>
    internal static string? WarningFor(EdpBatchLatency r, IReadOnlyList<LayerPlan> plans, LatencyTable table, string source, Hardware hardware)
    {
        var invariant = CultureInfo.InvariantCulture;
        string? what = r.MeasuredSpeedup < WarnSlowerBelow
            ? string.Create(invariant, $"EDP: at batch {r.Batch} the compressed model ran slower than the plain one ({r.MeasuredSpeedup:F2}x as fast; the latency table predicted {r.PredictedSpeedup:F2}x): ")
            : r.MeasuredSpeedup < WarnBelowFractionOfPredicted * r.PredictedSpeedup
                ? string.Create(invariant, $"EDP: at batch {r.Batch} the model ran {r.MeasuredSpeedup:F2}x as fast as plain, far below the {r.PredictedSpeedup:F2}x the latency table predicted: ")
                : null;
        return what is null ? null : what + Reason(r, plans, table, source, hardware);
    }

    /// <summary>What most likely kept the measured speed-up below the prediction, from what the fit knows.</summary>
    private static string Reason(EdpBatchLatency r, IReadOnlyList<LayerPlan> plans, LatencyTable table, string source, Hardware hardware)
    {
        var reasons = new List<string>();
        if (table.Cpu != hardware.Cpu)
            reasons.Add($"the table ('{source}') was measured on {table.Cpu}, and this machine is {hardware.Cpu}");
        double plainError = r.MeasuredPlainMilliseconds / r.PredictedPlainMilliseconds;
        if (plainError is > 1.3 or < 0.7)
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"the plain network itself ran at {r.MeasuredPlainMilliseconds:F3} ms against {r.PredictedPlainMilliseconds:F3} ms predicted, so the machine was busy while timing or has changed since the table was measured"));
        var odd = plans.Where(p => p.IsConv && (p.KeptOutputs.Length % table.ConvBlock != 0 || (p.KeptInputs.Length >= table.ConvBlock && p.KeptInputs.Length % table.ConvBlock != 0))).Select(p => p.Name).ToList();
        if (odd.Count > 0)
            reasons.Add($"{string.Join(", ", odd)} keep widths that are not multiples of the CPU's block of {table.ConvBlock}, which ONNX Runtime pads up or runs without its blocked kernels (leave ChannelMultiple unset to round to the block)");
        var pairs = plans.Where(p => p.PairRank is not null).Select(p => p.Name).ToList();
        if (pairs.Count > 0)
            reasons.Add($"{string.Join(", ", pairs)} run as basis and coefficient pairs, two convs with a tensor written and read between them" +
                " (a latency budget, TargetLatencyRatio, keeps a pair only where the table times it faster than the merged conv)");
        if (reasons.Count == 0)
            reasons.Add("the table times each layer alone, with its own layout reorders, while the whole network keeps ONNX Runtime's blocked layout between layers, so small layers' savings count for less");
        return string.Join("; ", reasons) + ".";
    }
}
