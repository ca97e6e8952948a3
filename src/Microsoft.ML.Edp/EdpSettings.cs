using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;

namespace Microsoft.ML.Edp;

/// <summary>The public options, mapped once at the door into the small internal records each stage takes, so that no
/// stage reads <see cref="EdpCompressOptions"/> and a checkpoint's fingerprint is built from the records themselves.
/// <c>Budget</c> is null without a target or for a plain network, which has nothing to remove; a plain network keeps
/// every group, so its pruning threshold is 0.</summary>
internal sealed record EdpSettings(
    NetworkSettings Network, TrainingSettings Training, ScheduleSettings Schedule, BudgetSettings? Budget, PruningSettings Pruning,
    DeviceSettings Device, CheckpointSettings Checkpoints, LatencySettings Latency)
{
    /// <summary>The learning rate when none is set: for training a built-in architecture from scratch, and for
    /// fine-tuning an imported model (<c>benchmarks/results/imported-learning-rate.md</c>). Unset, an imported model
    /// also trains as compressed-aware blocks and a built-in architecture as plain layers with channel groups.</summary>
    public const double ScratchLearningRate = 0.05, ImportedLearningRate = 0.005;

    public static EdpSettings From(EdpCompressOptions o)
    {
        bool imported = o.OnnxModel is not null || o.OnnxModelPath is not null;
        var network = new NetworkSettings(InputImageShape.Given(o), o.Architecture, o.ConvWidths, o.ResNetWidths,
            o.Compress, o.ExcludeFirstAndLast, o.CoefficientInit, o.Decompose ?? imported, o.OnnxModel, o.OnnxModelPath, o.ImportedNetworkRewrite);
        double learningRate = o.LearningRate ?? (imported ? ImportedLearningRate : ScratchLearningRate);
        return new(network,
            new TrainingSettings(o.Epochs, o.BatchSize, o.Seed, o.ShuffleBufferSize, o.Momentum, o.WeightDecay, o.CoefficientWeightDecay,
                o.RankPenalty, o.ChannelPenalty, o.PenaltyWeighting,
                new DistillationSettings(o.Compress ? o.DistillationWeight : 0, o.DistillationTemperature, o.DistillThroughRecovery, o.DistillationEmaDecay),
                o.BatchNormRecalibrationBatches),
            new ScheduleSettings(learningRate, o.LearningRateSchedule, o.PenaltyRampFraction, o.PenaltyHoldFraction, o.MinSelectionSteps, o.MinRecoverySteps, o.LearningRateWarmupSteps,
                o.Compress ? o.RecoveryLearningRate : 0),
            o.Compress && (o.TargetMacsRatio is not null || o.TargetParamsRatio is not null || o.TargetLatencyRatio is not null || o.TargetLatencyMilliseconds is not null)
                ? new BudgetSettings(o.TargetMacsRatio, o.TargetParamsRatio, o.TargetLatencyRatio, o.TargetLatencyMilliseconds, o.BudgetPenalty, o.LayerNormalizedImportance) : null,
            new PruningSettings(o.Compress ? o.PruneThreshold : 0, o.ChannelGroup, Hardware.ChannelMultiple(o.ChannelMultiple), o.PruneResidualStreams),
            new DeviceSettings(o.NumberOfThreads, o.Device, o.FallbackToCpu),
            new CheckpointSettings(o.CheckpointDirectory, o.ResumeFromCheckpoint),
            new LatencySettings(o.MeasureLatency, o.LatencyBatchSize, o.LatencyTablePath));
    }

    /// <summary>The network these settings train, for <paramref name="classes"/> classes: the imported model or the
    /// built-in architecture, its compressed layers factored as <see cref="NetworkSettings.Decompose"/> says and its
    /// residual streams prunable as <see cref="PruningSettings.ResidualStreams"/> says.</summary>
    public NetworkGraph Graph(int classes)
        => (OnnxNetworkSource.IsGiven(Network) ? OnnxNetworkSource.Load(Network, classes) : Architectures.Build(Network, classes))
            .Decomposed(Network.Decompose) with { PruneResidualStreams = Pruning.ResidualStreams };

    /// <summary>These settings for images of <paramref name="image"/>, the shape the data resolved.</summary>
    public EdpSettings WithImage(InputImageShape image) => this with { Network = Network with { Image = image } };
}
