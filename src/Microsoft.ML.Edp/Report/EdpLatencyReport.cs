namespace Microsoft.ML.Edp;

/// <summary>Predicted and measured ONNX Runtime latency of the plain network's export and of the compressed model,
/// at one batch size. Measured times are medians of interleaved runs in one process.</summary>
public sealed class EdpBatchLatency
{
    /// <summary>Images per run.</summary>
    public int Batch { get; init; }
    /// <summary>The plain network's latency in milliseconds, predicted from the latency table.</summary>
    public double PredictedPlainMilliseconds { get; init; }
    /// <summary>The compressed model's latency in milliseconds, predicted from the latency table.</summary>
    public double PredictedMilliseconds { get; init; }
    /// <summary>The plain network's export, timed after the fit.</summary>
    public double MeasuredPlainMilliseconds { get; init; }
    /// <summary>The compressed model, timed after the fit.</summary>
    public double MeasuredMilliseconds { get; init; }
    /// <summary>Predicted plain / predicted compressed.</summary>
    public double PredictedSpeedup => PredictedMilliseconds > 0 ? PredictedPlainMilliseconds / PredictedMilliseconds : 1;
    /// <summary>Measured plain / measured compressed.</summary>
    public double MeasuredSpeedup => MeasuredMilliseconds > 0 ? MeasuredPlainMilliseconds / MeasuredMilliseconds : 1;
}

/// <summary>The kernels the latency was measured with (on the fit's CPU, <see cref="EdpCompressionReport.Cpu"/>), where
/// the prediction came from, and the figures per batch size.</summary>
public sealed class EdpLatencyReport
{
    /// <summary>The channel block of ONNX Runtime's conv kernels on the fit's CPU: 16 with AVX-512F, else 8.</summary>
    public int ConvBlock { get; init; }
    /// <summary>The ONNX Runtime version that timed the models.</summary>
    public string OnnxRuntimeVersion { get; init; } = "";
    /// <summary>Where the latency table came from: <c>measured</c> during this fit, or the path of the cached or given file.</summary>
    public string TableSource { get; init; } = "";
    /// <summary>The CPU the latency table was measured on: this one (<see cref="EdpCompressionReport.Cpu"/>), or the
    /// deployment machine's for a given file.</summary>
    public string TableCpu { get; init; } = "";
    /// <summary>One entry per batch size, the scoring batch (<see cref="EdpCompressOptions.LatencyBatchSize"/>) among them.</summary>
    public EdpBatchLatency[] Batches { get; init; } = [];
}
