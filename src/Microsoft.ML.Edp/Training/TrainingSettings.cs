using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp.Training;

/// <summary>What the training stage computes with: the passes and order over the data, SGD and the group penalties.
/// BN recalibration runs after the last epoch, so a resumed run may change its batch count, which is left out of a
/// checkpoint's fingerprint. <c>Distillation</c> changes the loss, so it joins the fingerprint.</summary>
internal sealed record TrainingSettings(
    int Epochs, int BatchSize, int Seed, int ShuffleBufferSize, double Momentum, double WeightDecay, double CoefficientWeightDecay,
    double RankPenalty, double ChannelPenalty, EdpPenaltyWeighting PenaltyWeighting, DistillationSettings Distillation,
    [property: JsonIgnore] int BatchNormRecalibrationBatches);

/// <summary>How the learning rate and the penalties move over training.</summary>
/// <param name="LearningRate">The peak SGD learning rate.</param>
/// <param name="LearningRateSchedule">How the learning rate decays.</param>
/// <param name="PenaltyRampFraction">Fraction of training over which the penalties ramp in.</param>
/// <param name="PenaltyHoldFraction">Fraction of training after which the sparsity pattern freezes.</param>
/// <param name="MinSelectionSteps">Optimizer steps before the freeze, at least (see <see cref="InSteps"/>).</param>
/// <param name="MinRecoverySteps">Optimizer steps after the freeze, at least, when the selection floor moves it.</param>
/// <param name="WarmupSteps">Optimizer steps over which the learning rate rises linearly to the schedule's value.</param>
/// <param name="RecoveryRestart">Above 0, the schedule starts anew at the freeze, over the steps left, from this fraction
/// of <paramref name="LearningRate"/>; 0 runs one schedule over the whole run.</param>
internal sealed record ScheduleSettings(double LearningRate, EdpLearningRateSchedule LearningRateSchedule, double PenaltyRampFraction, double PenaltyHoldFraction,
    int MinSelectionSteps, int MinRecoverySteps, int WarmupSteps = 0, double RecoveryRestart = 0)
{
    /// <summary>The learning rate at optimizer step <paramref name="step"/> (from 0) of <paramref name="totalSteps"/>:
    /// the schedule's value at that fraction of the run, scaled by (step + 1) / <see cref="WarmupSteps"/> during the
    /// warm-up; with <see cref="RecoveryRestart"/>, after the freeze the schedule's value at that fraction of the
    /// recovery instead.</summary>
    public double LearningRateAt(long step, long totalSteps)
    {
        if (RecoveryRestart > 0 && InSteps(totalSteps) is { Recovery: > 0 } penalties && penalties.FrozenAt(step))
            return LearningRateSchedules.At(LearningRateSchedule, LearningRate * RecoveryRestart, (double)(step - penalties.Hold) / penalties.Recovery);
        return LearningRateSchedules.At(LearningRateSchedule, LearningRate, (double)step / totalSteps)
            * (step < WarmupSteps ? (step + 1.0) / WarmupSteps : 1);
    }

    /// <summary>The penalty schedule of a run of <paramref name="totalSteps"/> optimizer steps. The ramp and the freeze
    /// are the fractions of the run, but a freeze that would come before <see cref="MinSelectionSteps"/> moves later
    /// (the ramp with it, in proportion): to that step on a run long enough for both floors, and on a run too short
    /// for both (warned about, see <see cref="PenaltySteps.TooShort"/>) to the step that splits the run as the floors
    /// split their sum. A freeze never moves earlier; a hold of 1 never freezes and moves nothing.</summary>
    public PenaltySteps InSteps(long totalSteps)
    {
        long hold = (long)Math.Round(PenaltyHoldFraction * totalSteps), ramp = (long)Math.Round(PenaltyRampFraction * totalSteps);
        if (PenaltyHoldFraction < 1 && hold > 0 && hold < MinSelectionSteps)
        {
            long floors = MinSelectionSteps + MinRecoverySteps;
            long moved = totalSteps >= floors ? MinSelectionSteps : totalSteps * MinSelectionSteps / floors;
            if (moved > hold)
                (ramp, hold) = (ramp * moved / hold, moved);
        }
        return new PenaltySteps(totalSteps, ramp, hold, MinSelectionSteps, MinRecoverySteps);
    }
}

/// <summary>The penalty schedule of one run in optimizer steps (<see cref="ScheduleSettings.InSteps"/>).</summary>
/// <param name="Total">All optimizer steps of the run.</param>
/// <param name="Ramp">Steps over which the penalties ramp in.</param>
/// <param name="Hold">The step at which the sparsity pattern freezes; <paramref name="Total"/> or more never freezes in training.</param>
/// <param name="MinSelection">The selection asked for.</param>
/// <param name="MinRecovery">The recovery asked for.</param>
internal readonly record struct PenaltySteps(long Total, long Ramp, long Hold, long MinSelection, long MinRecovery)
{
    /// <summary>Steps left after the freeze to recover on the final structure.</summary>
    public long Recovery => Math.Max(0, Total - Hold);

    /// <summary>Whether the run is too short for both floors.</summary>
    public bool TooShort => Hold < Total && Total < MinSelection + MinRecovery;

    /// <summary>The penalty ramp s(t) at optimizer step <paramref name="step"/>.</summary>
    public double RampAt(long step) => Ramp <= 0 ? 1 : SparsityRamp.At((double)step / Ramp, 1);

    /// <summary>Whether the pattern freezes at (or before) <paramref name="step"/>.</summary>
    public bool FrozenAt(long step) => step >= Hold;
}

/// <summary>A cost budget (at least one target set) for a compressed network; every target set is met.</summary>
/// <param name="TargetMacsRatio">The fraction of the plain network's MACs to keep, or null.</param>
/// <param name="TargetParamsRatio">The fraction of its parameters to keep, or null.</param>
/// <param name="TargetLatencyRatio">The fraction of its latency to keep, as the latency table predicts it at the
/// scoring batch, or null.</param>
/// <param name="TargetLatencyMilliseconds">The most milliseconds a run at the scoring batch may take, as the table
/// predicts it, or null.</param>
/// <param name="Penalty">Which groups the budget's penalty shrinks.</param>
/// <param name="LayerNormalizedImportance">Each layer's importance estimates are divided by their layer's sum, per kind, before the ranking (a residual stream's channel groups summing to its number of members).</param>
internal sealed record BudgetSettings(double? TargetMacsRatio, double? TargetParamsRatio, double? TargetLatencyRatio, double? TargetLatencyMilliseconds, EdpBudgetPenalty Penalty,
    bool LayerNormalizedImportance = true)
{
    /// <summary>Whether a target is latency, which needs a latency table and makes the table's cost the merge rule.</summary>
    public bool HasLatency => TargetLatencyRatio is not null || TargetLatencyMilliseconds is not null;
}

/// <summary>Where training runs: libtorch's thread count (null for one per core) and the device.</summary>
internal sealed record DeviceSettings(int? Threads, EdpDevice Device, bool FallbackToCpu);

/// <summary>Where the training checkpoint lives (null for none) and whether a fit resumes from it.</summary>
internal sealed record CheckpointSettings(string? Directory, bool Resume);
