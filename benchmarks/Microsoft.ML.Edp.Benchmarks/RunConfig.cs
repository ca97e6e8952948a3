using System.Text.Json;
using Microsoft.ML.Edp;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>One training run: a name and the option overrides that distinguish it. <see cref="ConvWidths"/> (comma-separated,
/// a string so that records compare by value) trains a custom-width VGG; <see cref="ResNetWidths"/> (stem and three
/// stages) a narrower ResNet of the invocation's depth. <see cref="TrainImages"/> keeps only the first
/// that many training images (the short regime); <see cref="Seed"/> seeds weights and shuffling.</summary>
public sealed record RunConfig(
    string Name, bool Compress = true, EdpArchitecture Architecture = EdpArchitecture.VggSmall,
    double? RankPenalty = null, double? ChannelPenalty = null, double? HoldFraction = null, double? RampFraction = null,
    EdpPenaltyWeighting? Weighting = null, EdpCoefficientInit? Init = null, EdpChannelGroup? ChannelGroup = null, int? ChannelMultiple = null, double? TargetMacsRatio = null,
    int DataRepeat = 1, int? ShuffleBufferSize = null, int? Epochs = null, string? ConvWidths = null, EdpBudgetPenalty? BudgetPenalty = null,
    int Seed = 1, int? TrainImages = null)
{
    public EdpCompressOptions ToOptions(int epochs, int threads)
    {
        var o = new EdpCompressOptions { Architecture = Architecture, Compress = Compress, Epochs = Epochs ?? epochs, NumberOfThreads = threads, Seed = Seed };
        if (ShuffleBufferSize is { } buffer) o.ShuffleBufferSize = buffer;
        if (ConvWidths is { } widths) (o.Architecture, o.ConvWidths) = (EdpArchitecture.CustomVgg, widths.Split(',').Select(int.Parse).ToArray());
        if (RankPenalty is { } r) o.RankPenalty = r;
        if (ResNetWidths is { } resNet) o.ResNetWidths = resNet.Split(',').Select(int.Parse).ToArray();
        if (ChannelPenalty is { } c) o.ChannelPenalty = c;
        if (HoldFraction is { } h) o.PenaltyHoldFraction = h;
        if (RampFraction is { } f) o.PenaltyRampFraction = f;
        if (Weighting is { } w) o.PenaltyWeighting = w;
        if (Init is { } i) o.CoefficientInit = i;
        if (ChannelGroup is { } g) o.ChannelGroup = g;
        if (ChannelMultiple is { } m) o.ChannelMultiple = m;
        if (BudgetPenalty is { } p) o.BudgetPenalty = p;
        o.TargetMacsRatio = TargetMacsRatio;
        o.TargetLatencyRatio = TargetLatencyRatio;
        if (LatencyBatchSize is { } b) o.LatencyBatchSize = b;
        if (DistillationWeight is { } d) (o.DistillationWeight, o.DistillThroughRecovery, o.DistillationEmaDecay) = (d, DistillThroughRecovery, DistillationEmaDecay);
        if (RawImportance) o.LayerNormalizedImportance = false;
        if (PlainEnds) o.ExcludeFirstAndLast = true;
        if (Decompose is { } decompose) o.Decompose = decompose;
        o.RecoveryLearningRate = RecoveryLearningRate;
        o.CoefficientWeightDecay = CoefficientWeightDecay;
        if (LearningRate is { } lr) o.LearningRate = lr;
        return o;
    }

    /// <summary>The budget ranks groups by their raw importance, not normalised per layer (<see cref="EdpCompressOptions.LayerNormalizedImportance"/>).</summary>
    public bool RawImportance { get; init; }

    /// <summary>The first conv and the classifier train as plain layers (<see cref="EdpCompressOptions.ExcludeFirstAndLast"/>).</summary>
    public bool PlainEnds { get; init; }

    /// <summary>False trains the compressed layers plain, with channel groups only (<see cref="EdpCompressOptions.Decompose"/>).</summary>
    public bool? Decompose { get; init; }

    /// <summary>Above 0, the learning rate restarts at the freeze from this fraction of its peak (<see cref="EdpCompressOptions.RecoveryLearningRate"/>).</summary>
    public double RecoveryLearningRate { get; init; }

    /// <summary>A latency budget (<see cref="EdpCompressOptions.TargetLatencyRatio"/>), predicted from the table
    /// measured on this machine; set <see cref="TargetMacsRatio"/> to null beside it to budget latency alone.</summary>
    public double? TargetLatencyRatio { get; init; }

    /// <summary>The ResNet's stem and stage widths (<see cref="EdpCompressOptions.ResNetWidths"/>), comma-separated, or null.</summary>
    public string? ResNetWidths { get; init; }

    /// <summary>The scoring batch the latency budget is predicted at (<see cref="EdpCompressOptions.LatencyBatchSize"/>);
    /// null keeps the default, 1.</summary>
    public int? LatencyBatchSize { get; init; }

    /// <summary>Knowledge distillation from the network before the cut (<see cref="EdpCompressOptions.DistillationWeight"/>);
    /// null keeps the default, off.</summary>
    public double? DistillationWeight { get; init; }

    /// <summary>With <see cref="DistillationWeight"/>, the teacher stays through the recovery instead of going at the freeze.</summary>
    public bool DistillThroughRecovery { get; init; }

    /// <summary>With <see cref="DistillationWeight"/>, above 0: the teacher is a moving average of the weights with this decay.</summary>
    public double DistillationEmaDecay { get; init; }

    /// <summary>L2 weight decay on the coefficient matrices A (<see cref="EdpCompressOptions.CoefficientWeightDecay"/>); 0 by default.</summary>
    public double CoefficientWeightDecay { get; init; }

    /// <summary>The peak learning rate (<see cref="EdpCompressOptions.LearningRate"/>); null keeps the default.</summary>
    public double? LearningRate { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this);
    public static RunConfig FromJson(string json) => JsonSerializer.Deserialize<RunConfig>(json)!;
}

/// <summary>What one run measured, and where and when (<see cref="Machine"/>).</summary>
public sealed record RunResult(
    RunConfig Config, int Epochs, int Threads, long TrainRows, double TestAccuracy,
    long Params, long Macs, long OnnxBytes, long OnnxParameters, double FitSeconds, double TrainingSeconds,
    long PeakRssBytes, long[] RssPerEpochBytes, double? AccuracyBeforePruning, double? AccuracyAfterPruning, string ReportMarkdown,
    MachineInfo? Machine = null, EdpBatchLatency[]? Latency = null)
{
    /// <summary>The training backend the fit's self-check chose, as its report names it: oneDNN, or libtorch's own
    /// convolutions where oneDNN failed the check on this machine.</summary>
    public string BackendPath => ReportMarkdown.Contains("oneDNN off") ? "native (oneDNN off)"
        : ReportMarkdown.Contains("- backend: CPU, oneDNN") ? "oneDNN" : "-";

    /// <summary>This result with the user's home folder written as ~: the report names the latency table's file in the
    /// user's cache, and committed results name no home folder.</summary>
    public RunResult WithoutHomeFolder() => this with { ReportMarkdown = MachineInfo.WithoutHomeFolder(ReportMarkdown) };
}
