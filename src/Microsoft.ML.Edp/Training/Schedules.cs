namespace Microsoft.ML.Edp.Training;

/// <summary>The learning rate at a point of training.</summary>
internal static class LearningRateSchedules
{
    /// <summary><paramref name="progress"/> is the fraction of all steps done, in [0, 1).</summary>
    public static double At(EdpLearningRateSchedule schedule, double baseRate, double progress) => schedule switch
    {
        EdpLearningRateSchedule.Constant => baseRate,
        EdpLearningRateSchedule.Step => baseRate * (progress < 0.5 ? 1 : progress < 0.75 ? 0.1 : 0.01),
        _ => baseRate * 0.5 * (1 + Math.Cos(Math.PI * progress)),
    };
}

/// <summary>The penalty ramp s(t): a sigmoid from exactly 0 to exactly 1 over the first <c>rampFraction</c> of
/// training, then 1, so the network first learns and then sparsifies.</summary>
internal static class SparsityRamp
{
    private const double Steepness = 12;

    public static double At(double progress, double rampFraction)
    {
        if (rampFraction <= 0 || progress >= rampFraction)
            return 1;
        static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
        double lo = Sigmoid(-Steepness / 2), hi = Sigmoid(Steepness / 2);
        return (Sigmoid(Steepness * (progress / rampFraction - 0.5)) - lo) / (hi - lo);
    }
}
