using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Steers training towards a cost budget (<see cref="EdpCompressOptions.TargetMacsRatio"/>,
/// <see cref="EdpCompressOptions.TargetParamsRatio"/>) instead of a fixed penalty.</summary>
/// <remarks>
/// Every few steps it projects the post-PM cost from the live group norms (the planner, merge rule included) and
/// compares it with a path that falls from the full cost to the target along the penalty ramp. While the network is
/// over the path the penalty strength grows; once it reaches the path the penalties pause (and the strength decays)
/// until the path moves on. Pausing rather than easing off is on purpose: channel groups under group lasso with BN die
/// in cliffs, and a channel group that reaches zero with its BN gamma never comes back. A full-data VGG-S run with a
/// gently easing multiplier fell from 100% to 28% of the MACs within one epoch while aiming at 50%.
/// When the sparsity pattern freezes, <see cref="Enforce"/> closes the remaining gap with the smallest global relative
/// threshold that meets the budget, and the rest of training recovers from that cut.
/// </remarks>
internal sealed class BudgetController
{
    private const double GainUp = 0.02, GainDown = 0.06;
    private const double MinMultiplier = 1e-2, MaxMultiplier = 30;
    /// <summary>Groups under this fraction of their layer's largest count as gone in the projection: they are on their
    /// way to zero, and waiting for them to reach it makes the controller overshoot.</summary>
    private const double ProjectionThreshold = 0.1;
    private readonly EdpCompressOptions _options;
    private readonly (long Macs, long Params) _full;
    private readonly int _interval;
    private int _calls;

    private BudgetController(EdpCompressOptions options, (long, long) full, int interval)
        => (_options, _full, _interval) = (options, full, interval);

    /// <summary>The penalty multiplier now in force: the controller's strength, or 0 while it pauses.</summary>
    public double Multiplier { get; private set; } = 1;

    private double _strength = 1;

    /// <summary>A controller for <paramref name="net"/>, or null when the options set no budget. Throws when the budget
    /// is below what Pruning &amp; Merging can reach at all.</summary>
    public static BudgetController? Create(EdpCompressOptions options, EdpNet net, long stepsPerEpoch)
    {
        if (options.TargetMacsRatio is null && options.TargetParamsRatio is null)
            return null;
        var plans = PruningPlanner.Plan(net, 0, options.ChannelGroup, options.ChannelMultiple);
        (long Macs, long Params) full = (plans.Sum(p => p.Before.Macs), plans.Sum(p => p.Before.Params));
        var floor = Minimum(net, options);
        void Check(double? target, double reachable, string name)
        {
            if (target is double t && t < reachable)
                throw new ArgumentOutOfRangeException(name, t,
                    $"{name} is {t:0.###}, but this network cannot go below {reachable:0.###} of its cost: every layer keeps at least one channel and one basis filter, " +
                    "and plain (uncompressed) layers and channels feeding a residual sum or the classifier keep their width. Ask for at least that ratio.");
        }
        Check(options.TargetMacsRatio, (double)floor.Macs / full.Macs, nameof(options.TargetMacsRatio));
        Check(options.TargetParamsRatio, (double)floor.Params / full.Params, nameof(options.TargetParamsRatio));
        return new BudgetController(options, full, (int)Math.Max(1, stepsPerEpoch / 100));
    }

    /// <summary>Everything the controller carries from step to step, for checkpoints.</summary>
    public double[] State => [_calls, Multiplier, _strength];

    /// <summary>Continues from a <see cref="State"/> saved by a checkpoint.</summary>
    public void Restore(IReadOnlyList<double> state) => (_calls, Multiplier, _strength) = ((int)state[0], state[1], state[2]);

    /// <summary>Called once a step; returns the multiplier for this step's penalties.</summary>
    public double Update(EdpNet net, double progress)
    {
        if (_calls++ % _interval != 0)
            return Multiplier;
        double ramp = SparsityRamp.At(progress, _options.PenaltyRampFraction);
        var live = Plan(net, _options, Math.Max(_options.PruneThreshold, ProjectionThreshold));
        double error = Math.Max(
            Error(_options.TargetMacsRatio, (double)live.Macs / _full.Macs, ramp),
            Error(_options.TargetParamsRatio, (double)live.Params / _full.Params, ramp));
        _strength = Math.Clamp(_strength * Math.Exp((error > 0 ? GainUp : GainDown) * error), MinMultiplier, MaxMultiplier);
        Multiplier = error > 0 ? _strength : 0;
        return Multiplier;
    }

    /// <summary>Zeroes the weakest groups, relative to the largest of their layer, until the budget holds, and returns
    /// the relative threshold that did it (the plain prune threshold when the budget already holds).</summary>
    public double Enforce(EdpNet net, Action<string> log)
    {
        double lo = _options.PruneThreshold, hi = 1;
        if (Meets(Plan(net, _options, lo)))
            return lo;
        for (int i = 0; i < 40; i++)
        {
            double mid = (lo + hi) / 2;
            if (Meets(Plan(net, _options, mid)))
                hi = mid;
            else
                lo = mid;
        }
        var plans = PruningPlanner.Plan(net, hi, _options.ChannelGroup, _options.ChannelMultiple);
        GroupZeroing.Apply(net, plans);
        var cost = Total(plans);
        log($"budget: cut every group under {hi:0.####} of its layer's largest: MACs {(double)cost.Macs / _full.Macs:P1}, params {(double)cost.Params / _full.Params:P1} of the plain net.");
        return hi;
    }

    private bool Meets((long Macs, long Params) cost)
        => (_options.TargetMacsRatio is not double m || cost.Macs <= m * _full.Macs)
        && (_options.TargetParamsRatio is not double p || cost.Params <= p * _full.Params);

    /// <summary>How far the projected ratio is above the path to the target, in units of the whole cut.</summary>
    private static double Error(double? target, double projected, double ramp)
        => target is double t ? (projected - (1 - (1 - t) * ramp)) / Math.Max(1 - t, 1e-3) : double.NegativeInfinity;

    private static (long Macs, long Params) Plan(EdpNet net, EdpCompressOptions options, double threshold)
        => Total(PruningPlanner.Plan(net, threshold, options.ChannelGroup, options.ChannelMultiple));

    private static (long Macs, long Params) Total(IReadOnlyList<LayerPlan> plans)
        => (plans.Sum(p => p.After.Macs), plans.Sum(p => p.After.Params));

    /// <summary>The cheapest network PM could produce: one group of each kind left wherever groups exist.</summary>
    private static (long Macs, long Params) Minimum(EdpNet net, EdpCompressOptions options)
        => Plan(net, options, 1);
}
