using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp.Training;

/// <summary>What the training stage computes with: the passes and order over the data, SGD and the group penalties.
/// BN recalibration runs after the last epoch, so a resumed run may change its batch count, which is left out of a
/// checkpoint's fingerprint.</summary>
internal sealed record TrainingSettings(
    int Epochs, int BatchSize, int Seed, int ShuffleBufferSize, double Momentum, double WeightDecay,
    double RankPenalty, double ChannelPenalty, EdpPenaltyWeighting PenaltyWeighting,
    [property: JsonIgnore] int BatchNormRecalibrationBatches);

/// <summary>How the learning rate and the penalties move over training.</summary>
/// <param name="LearningRate">The peak SGD learning rate.</param>
/// <param name="LearningRateSchedule">How the learning rate decays.</param>
/// <param name="PenaltyRampFraction">Fraction of training over which the penalties ramp in.</param>
/// <param name="PenaltyHoldFraction">Fraction of training after which the sparsity pattern freezes.</param>
internal sealed record ScheduleSettings(double LearningRate, EdpLearningRateSchedule LearningRateSchedule, double PenaltyRampFraction, double PenaltyHoldFraction)
{
    /// <summary>The learning rate at <paramref name="progress"/>, the fraction of all steps done.</summary>
    public double LearningRateAt(double progress) => LearningRateSchedules.At(LearningRateSchedule, LearningRate, progress);

    /// <summary>The penalty ramp s(t) at <paramref name="progress"/>.</summary>
    public double RampAt(double progress) => SparsityRamp.At(progress, PenaltyRampFraction);
}

/// <summary>A cost budget (at least one target set) for a compressed network.</summary>
/// <param name="TargetMacsRatio">The fraction of the plain network's MACs to keep, or null.</param>
/// <param name="TargetParamsRatio">The fraction of its parameters to keep, or null.</param>
/// <param name="Penalty">Which groups the budget's penalty shrinks.</param>
internal sealed record BudgetSettings(double? TargetMacsRatio, double? TargetParamsRatio, EdpBudgetPenalty Penalty);

/// <summary>Where training runs: libtorch's thread count (null for one per core) and the device.</summary>
internal sealed record DeviceSettings(int? Threads, EdpDevice Device, bool FallbackToCpu);

/// <summary>Where the training checkpoint lives (null for none) and whether a fit resumes from it.</summary>
internal sealed record CheckpointSettings(string? Directory, bool Resume);
