namespace Microsoft.ML.Edp;

/// <summary>Rejects out-of-range options when the estimator is created, naming the option, the range and the value.</summary>
internal static class EdpOptionsValidation
{
    public static void Validate(EdpCompressOptions o)
    {
        foreach (var (name, size) in new[] { (nameof(o.ImageChannels), o.ImageChannels), (nameof(o.ImageHeight), o.ImageHeight), (nameof(o.ImageWidth), o.ImageWidth) })
            if (size is int given)
                Positive(given, name);
        Positive(o.Epochs, nameof(o.Epochs));
        Positive(o.BatchSize, nameof(o.BatchSize));
        Positive(o.ShuffleBufferSize, nameof(o.ShuffleBufferSize));
        if (o.ChannelMultiple is int multiple)
            Positive(multiple, nameof(o.ChannelMultiple));
        Positive(o.LatencyBatchSize, nameof(o.LatencyBatchSize));
        Check(o.BatchNormRecalibrationBatches >= 0, nameof(o.BatchNormRecalibrationBatches), "an integer >= 0", o.BatchNormRecalibrationBatches);
        if (o.NumberOfThreads is int t)
            Positive(t, nameof(o.NumberOfThreads));
        Check(o.LearningRate is null or > 0 and < double.PositiveInfinity, nameof(o.LearningRate), "a positive number", o.LearningRate!);
        NonNegative(o.Momentum, nameof(o.Momentum));
        NonNegative(o.WeightDecay, nameof(o.WeightDecay));
        NonNegative(o.RankPenalty, nameof(o.RankPenalty));
        NonNegative(o.ChannelPenalty, nameof(o.ChannelPenalty));
        Check(o.PenaltyRampFraction is >= 0 and <= 1, nameof(o.PenaltyRampFraction), "a fraction in [0, 1]", o.PenaltyRampFraction);
        Check(o.PenaltyHoldFraction is > 0 and <= 1, nameof(o.PenaltyHoldFraction), "a fraction in (0, 1]", o.PenaltyHoldFraction);
        Check(o.MinSelectionSteps >= 0, nameof(o.MinSelectionSteps), "an integer >= 0", o.MinSelectionSteps);
        Check(o.MinRecoverySteps >= 0, nameof(o.MinRecoverySteps), "an integer >= 0", o.MinRecoverySteps);
        Check(o.LearningRateWarmupSteps >= 0, nameof(o.LearningRateWarmupSteps), "an integer >= 0", o.LearningRateWarmupSteps);
        Check(o.DistillationWeight is >= 0 and <= 1, nameof(o.DistillationWeight), "a weight in [0, 1]", o.DistillationWeight);
        // The teacher is the network while it is still dense, which without a ramp it is only before the first step.
        Check(o.DistillationWeight == 0 || o.PenaltyRampFraction > 0, nameof(o.DistillationWeight),
            $"0 with {nameof(o.PenaltyRampFraction)} = 0 (the teacher is taken while the penalties ramp in)", o.DistillationWeight);
        Check(o.DistillationTemperature is > 0 and < double.PositiveInfinity, nameof(o.DistillationTemperature), "a positive temperature", o.DistillationTemperature);
        Check(o.PruneThreshold is >= 0 and < 1, nameof(o.PruneThreshold), "a fraction in [0, 1)", o.PruneThreshold);
        // Widths for another architecture than the one chosen would be silently ignored: reject them instead.
        if (o.Architecture == EdpArchitecture.CustomVgg)
            Check(o.ConvWidths is { Length: > 0 } w && w.All(x => x > 0), nameof(o.ConvWidths), "at least one positive conv width", Widths(o.ConvWidths));
        else
            Check(o.ConvWidths is null, nameof(o.ConvWidths), $"null with Architecture {o.Architecture} (the widths apply to {EdpArchitecture.CustomVgg} only: set Architecture = {nameof(EdpArchitecture)}.{EdpArchitecture.CustomVgg})", Widths(o.ConvWidths));
        if (o.Architecture is EdpArchitecture.ResNet20 or EdpArchitecture.ResNet56)
            Check(o.ResNetWidths is null || (o.ResNetWidths.Length == 4 && o.ResNetWidths.All(x => x > 0)), nameof(o.ResNetWidths), "four positive widths (stem, stage 1, stage 2, stage 3)", Widths(o.ResNetWidths));
        else
            Check(o.ResNetWidths is null, nameof(o.ResNetWidths), $"null with Architecture {o.Architecture} (the widths apply to {EdpArchitecture.ResNet20} and {EdpArchitecture.ResNet56} only)", Widths(o.ResNetWidths));
        foreach (var (name, target) in new[] { (nameof(o.TargetMacsRatio), o.TargetMacsRatio), (nameof(o.TargetParamsRatio), o.TargetParamsRatio), (nameof(o.TargetLatencyRatio), o.TargetLatencyRatio) })
            if (target is double ratio)
                Check(ratio is > 0 and <= 1, name, "a ratio in (0, 1]", ratio);
        if (o.TargetLatencyMilliseconds is double ms)
            Check(ms > 0 && double.IsFinite(ms), nameof(o.TargetLatencyMilliseconds), "a positive number of milliseconds", ms);
        // A latency budget is predicted from the latency table: one measured here (MeasureLatency) or one given.
        if (o.TargetLatencyRatio is not null || o.TargetLatencyMilliseconds is not null)
            Check(o.MeasureLatency || o.LatencyTablePath is not null, o.TargetLatencyRatio is not null ? nameof(o.TargetLatencyRatio) : nameof(o.TargetLatencyMilliseconds),
                $"null unless a latency table is measured ({nameof(o.MeasureLatency)} = true) or given ({nameof(o.LatencyTablePath)})",
                $"{o.TargetLatencyRatio?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? o.TargetLatencyMilliseconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) + " ms"} with {nameof(o.MeasureLatency)} = false and no {nameof(o.LatencyTablePath)}");
        if (EdpSettings.From(o).Network is var network && Import.OnnxNetworkSource.IsGiven(network))
            Import.OnnxNetworkSource.Validate(network);
        foreach (var (name, value) in new[] { (nameof(o.FeatureColumnName), o.FeatureColumnName), (nameof(o.LabelColumnName), o.LabelColumnName), (nameof(o.ScoreColumnName), o.ScoreColumnName), (nameof(o.PredictedLabelColumnName), o.PredictedLabelColumnName) })
            Check(!string.IsNullOrWhiteSpace(value), name, "a column name", value ?? "null");
    }

    private static string Widths(int[]? widths) => widths is null ? "null" : string.Join(",", widths);

    private static void Positive(int value, string name) => Check(value > 0, name, "a positive integer", value);

    private static void NonNegative(double value, string name) => Check(value >= 0 && double.IsFinite(value), name, "a finite number >= 0", value);

    private static void Check(bool ok, string name, string expected, object actual)
    {
        if (!ok)
            throw new ArgumentOutOfRangeException(name, actual, $"{name} must be {expected}; found {actual}.");
    }
}
