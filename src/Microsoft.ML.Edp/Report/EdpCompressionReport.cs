using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp;

/// <summary>What Pruning &amp; Merging did to one layer, and its cost before and after.</summary>
public sealed class EdpLayerReport
{
    /// <summary>The layer's name, e.g. <c>conv3</c> or <c>classifier</c>.</summary>
    public string Name { get; init; } = "";
    /// <summary><c>conv</c> or <c>linear</c>.</summary>
    public string Kind { get; init; } = "";
    /// <summary>The plain layer's weight shape: [n, c, k, k] for a conv, [n, c] for a linear layer.</summary>
    public long[] OriginalShape { get; init; } = [];
    /// <summary>Whether the layer trained as a compressed-aware block.</summary>
    public bool Compressed { get; init; }
    /// <summary>Basis filters kept (the rank), for a compressed-aware block; null for a plain layer.</summary>
    public int? KeptRank { get; init; }
    /// <summary>Output channels (or features) kept.</summary>
    public int KeptOutputChannels { get; init; }
    /// <summary>Input channels kept after the previous layer's pruning.</summary>
    public int KeptInputChannels { get; init; }
    /// <summary>Whether the basis and coefficient layers were merged back into one layer (false for a layer that trained
    /// plain, which the markdown shows as <c>-</c>).</summary>
    public bool Merged { get; init; }
    /// <summary>Parameters of the plain layer.</summary>
    public long ParamsBefore { get; init; }
    /// <summary>Parameters after Pruning &amp; Merging.</summary>
    public long ParamsAfter { get; init; }
    /// <summary>Multiply-accumulates per image of the plain layer.</summary>
    public long MacsBefore { get; init; }
    /// <summary>Multiply-accumulates per image after Pruning &amp; Merging.</summary>
    public long MacsAfter { get; init; }
}

/// <summary>Training statistics of one epoch.</summary>
public sealed class EdpEpochReport
{
    /// <summary>The 1-based epoch.</summary>
    public int Epoch { get; init; }
    /// <summary>Mean training cross-entropy.</summary>
    public double Loss { get; init; }
    /// <summary>Training accuracy (0..1).</summary>
    public double Accuracy { get; init; }
    /// <summary>Wall time of the epoch in seconds.</summary>
    public double Seconds { get; init; }
    /// <summary>MACs per image the network would have after Pruning &amp; Merging at the end of this epoch.</summary>
    public long LiveMacs { get; init; }
    /// <summary>Process working set at the end of the epoch, in bytes.</summary>
    public long WorkingSetBytes { get; init; }
}

/// <summary>The compression report: per-layer ranks, widths and costs, totals, accuracy before and after Pruning &amp;
/// Merging, and timings. It travels inside the ONNX model's metadata, so it survives <c>mlContext.Model.Save</c>.</summary>
public sealed class EdpCompressionReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The architecture trained, e.g. <c>VggSmall</c>.</summary>
    public string Architecture { get; init; } = "";
    /// <summary>True for an EDP run; false for the plain baseline (no compressed-aware blocks, no PM).</summary>
    public bool Compressed { get; init; }
    /// <summary>Class names in key order.</summary>
    public string[] ClassNames { get; init; } = [];
    /// <summary>Training rows seen per epoch.</summary>
    public long TrainingRows { get; init; }
    /// <summary>Per-layer results, in network order.</summary>
    public EdpLayerReport[] Layers { get; init; } = [];
    /// <summary>Per-epoch training statistics.</summary>
    public EdpEpochReport[] Epochs { get; init; } = [];
    /// <summary>Total parameters of the plain network.</summary>
    public long ParamsBefore => Layers.Sum(l => l.ParamsBefore);
    /// <summary>Total parameters after Pruning &amp; Merging.</summary>
    public long ParamsAfter => Layers.Sum(l => l.ParamsAfter);
    /// <summary>Total MACs per image of the plain network.</summary>
    public long MacsBefore => Layers.Sum(l => l.MacsBefore);
    /// <summary>Total MACs per image after Pruning &amp; Merging.</summary>
    public long MacsAfter => Layers.Sum(l => l.MacsAfter);
    /// <summary>MACs kept, after / before.</summary>
    public double MacsRatio => MacsBefore == 0 ? 1 : (double)MacsAfter / MacsBefore;
    /// <summary>Parameters kept, after / before.</summary>
    public double ParamsRatio => ParamsBefore == 0 ? 1 : (double)ParamsAfter / ParamsBefore;
    /// <summary>Validation accuracy of the trained network before Pruning &amp; Merging; null without a validation set.</summary>
    public double? ValidationAccuracyBeforePruning { get; init; }
    /// <summary>The MACs budget asked for (<see cref="EdpCompressOptions.TargetMacsRatio"/>); null without one.
    /// <see cref="MacsRatio"/> is what was achieved.</summary>
    public double? TargetMacsRatio { get; init; }
    /// <summary>The parameter budget asked for (<see cref="EdpCompressOptions.TargetParamsRatio"/>); null without one.
    /// <see cref="ParamsRatio"/> is what was achieved.</summary>
    public double? TargetParamsRatio { get; init; }
    /// <summary>The latency budget asked for as a ratio (<see cref="EdpCompressOptions.TargetLatencyRatio"/>); null
    /// without one. <see cref="PredictedLatencyRatio"/> is what was reached.</summary>
    public double? TargetLatencyRatio { get; init; }
    /// <summary>The latency budget asked for in milliseconds (<see cref="EdpCompressOptions.TargetLatencyMilliseconds"/>);
    /// null without one. <see cref="PredictedLatencyMilliseconds"/> is what was reached.</summary>
    public double? TargetLatencyMilliseconds { get; init; }
    /// <summary>Under a latency budget, the plain network's latency at <see cref="EdpCompressOptions.LatencyBatchSize"/>
    /// as the latency table predicts it; null without one.</summary>
    public double? PredictedPlainLatencyMilliseconds { get; init; }
    /// <summary>Under a latency budget, the compressed model's latency at <see cref="EdpCompressOptions.LatencyBatchSize"/>
    /// as the latency table predicts it; null without one. <see cref="Latency"/> holds what was measured.</summary>
    public double? PredictedLatencyMilliseconds { get; init; }
    /// <summary>Predicted latency kept, compressed / plain; null without a latency budget.</summary>
    public double? PredictedLatencyRatio => PredictedLatencyMilliseconds / PredictedPlainLatencyMilliseconds;
    /// <summary>Validation accuracy of the exported ONNX model, scored by ONNX Runtime; null without a validation set.</summary>
    public double? ValidationAccuracyAfterPruning { get; init; }
    /// <summary>Largest absolute difference between ONNX Runtime's and TorchSharp's logits on a check batch.</summary>
    public double OnnxMaxAbsDifference { get; init; }
    /// <summary>Training wall time in seconds.</summary>
    public double TrainingSeconds { get; init; }
    /// <summary>Wall time of the whole fit (data check, training, PM, export, validation) in seconds.</summary>
    public double TotalSeconds { get; init; }
    /// <summary>Size of the ONNX graph and weights in bytes, excluding this embedded report.</summary>
    public long OnnxSizeBytes { get; init; }
    /// <summary>Weights and biases stored in the ONNX model (BN folded into conv biases).</summary>
    public long OnnxParameterCount { get; init; }
    /// <summary>libtorch threads used for training.</summary>
    public int Threads { get; init; }
    /// <summary>The CPU the fit ran on (vendor, model name, family and model).</summary>
    public string? Cpu { get; init; }
    /// <summary>The training backend the fit's self-check chose, e.g. whether libtorch's oneDNN convolutions were used
    /// or switched off because they computed wrong results here.</summary>
    public string? Backend { get; init; }
    /// <summary>Seconds the backend self-check took (near zero when earlier fits on this machine checked the same shapes).</summary>
    public double BackendCheckSeconds { get; init; }
    /// <summary>The multiple kept channels and ranks were rounded up to: <see cref="EdpCompressOptions.ChannelMultiple"/>,
    /// or the CPU's conv block where it was left unset.</summary>
    public int ChannelMultiple { get; init; }
    /// <summary>Predicted and measured ONNX Runtime latency against the plain network; null when
    /// <see cref="EdpCompressOptions.MeasureLatency"/> is false.</summary>
    public EdpLatencyReport? Latency { get; init; }

    /// <summary>Serialises the report to indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static EdpCompressionReport FromJson(string json)
        => JsonSerializer.Deserialize<EdpCompressionReport>(json, JsonOptions) ?? throw new FormatException("The JSON holds no EDP compression report.");

    /// <summary>A Markdown summary: the per-layer table and the totals.</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"## EDP compression report ({Architecture}, {(Compressed ? "EDP" : "plain baseline")})");
        sb.AppendLine();
        sb.AppendLine("| layer | original shape | kept rank | kept out | kept in | merged | params before | params after | MACs before | MACs after |");
        sb.AppendLine("|---|---|---|---|---|---|---:|---:|---:|---:|");
        foreach (var l in Layers)
            sb.AppendLine(c, $"| {l.Name} | {string.Join("x", l.OriginalShape)} | {(l.KeptRank?.ToString(c) ?? "-")} | {l.KeptOutputChannels} | {l.KeptInputChannels} | {(l.KeptRank is null ? "-" : l.Merged ? "yes" : "no")} | {l.ParamsBefore:N0} | {l.ParamsAfter:N0} | {l.MacsBefore:N0} | {l.MacsAfter:N0} |");
        sb.AppendLine(c, $"| **total** | | | | | | {ParamsBefore:N0} | {ParamsAfter:N0} ({ParamsRatio:P1}) | {MacsBefore:N0} | {MacsAfter:N0} ({MacsRatio:P1}) |");
        sb.AppendLine();
        if (TargetMacsRatio is { } macsTarget)
            sb.AppendLine(c, $"- MACs budget: {macsTarget:P1} asked, {MacsRatio:P1} achieved");
        if (TargetParamsRatio is { } paramsTarget)
            sb.AppendLine(c, $"- parameter budget: {paramsTarget:P1} asked, {ParamsRatio:P1} achieved");
        if (PredictedLatencyMilliseconds is { } predicted && PredictedPlainLatencyMilliseconds is { } plain)
        {
            var asked = new List<string>();
            if (TargetLatencyRatio is { } ratio)
                asked.Add(ratio.ToString("P1", c));
            if (TargetLatencyMilliseconds is { } ms)
                asked.Add(ms.ToString("0.###", c) + " ms");
            sb.AppendLine(c, $"- latency budget: {string.Join(" and ", asked)} asked, {PredictedLatencyRatio:P1} predicted ({predicted:F3} ms against {plain:F3} ms plain)");
        }
        if (ValidationAccuracyBeforePruning is { } before && ValidationAccuracyAfterPruning is { } after)
            sb.AppendLine(c, $"- validation accuracy: {before:P2} before PM, {after:P2} after PM (ONNX Runtime)");
        sb.AppendLine(c, $"- ONNX: {OnnxSizeBytes:N0} bytes, {OnnxParameterCount:N0} stored parameters, max |ONNX - TorchSharp| logit difference {OnnxMaxAbsDifference:G3}");
        if (Latency is { } latency)
        {
            foreach (var b in latency.Batches)
                sb.AppendLine(c, $"- ONNX Runtime latency at batch {b.Batch}: {b.MeasuredMilliseconds:F3} ms against {b.MeasuredPlainMilliseconds:F3} ms plain, {b.MeasuredSpeedup:F2}x measured ({b.PredictedSpeedup:F2}x predicted: {b.PredictedMilliseconds:F3} against {b.PredictedPlainMilliseconds:F3} ms)");
            sb.AppendLine(c, $"- timed on {Cpu} (conv block {latency.ConvBlock}, ONNX Runtime {latency.OnnxRuntimeVersion}); latency table: {latency.TableSource}; kept counts rounded to multiples of {ChannelMultiple}");
        }
        sb.AppendLine(c, $"- training: {Epochs.Length} epochs on {TrainingRows:N0} rows, {TrainingSeconds:F1} s ({Threads} threads); whole fit {TotalSeconds:F1} s");
        if (Backend is not null)
            sb.AppendLine(c, $"- backend: {Backend} on {Cpu} (check {BackendCheckSeconds:F1} s)");
        return sb.ToString();
    }
}
