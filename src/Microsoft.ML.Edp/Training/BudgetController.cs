using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Steers training towards a cost budget (<see cref="EdpCompressOptions.TargetMacsRatio"/>,
/// <see cref="EdpCompressOptions.TargetParamsRatio"/>) instead of a fixed penalty.</summary>
/// <remarks>
/// Every few steps the cost the network should have is read off a path that falls from the full cost to the target
/// along the penalty ramp. What happens then depends on <see cref="EdpCompressOptions.BudgetPenalty"/>:
/// <list type="bullet">
/// <item><see cref="EdpBudgetPenalty.LeastImportant"/>: <see cref="ImportanceSelection"/> chooses the fewest groups,
/// least important first by a running Taylor estimate per unit of cost, whose removal meets the path; the proximal step
/// shrinks only those, at full strength, and every other group trains without penalty. A chosen group fades out over
/// tens of steps, so the network adapts while it fades.</item>
/// <item><see cref="EdpBudgetPenalty.AllGroups"/>: the post-PM cost is projected from the live group norms (the
/// planner, merge rule included); while it is above the path the strength on every group grows, and once on the path
/// the penalties pause (and the strength decays) until the path moves on. Pausing rather than easing off is on
/// purpose: channel groups under group lasso with BN die in cliffs, and a channel group that reaches zero with its BN
/// gamma never comes back. A full-data VGG-S run with a gently easing multiplier fell from 100% to 28% of the MACs
/// within one epoch while aiming at 50%.</item>
/// </list>
/// When the sparsity pattern freezes, <see cref="Enforce"/> closes the remaining gap (the chosen groups, or the
/// smallest global relative norm threshold that meets the budget), and the rest of training recovers from that cut.
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
    private readonly ProximalGroupLasso _prox;
    private readonly GroupImportance? _importance;
    private readonly IReadOnlyDictionary<string, (double Rank, double Channel)>? _groupCosts;
    private int _calls;
    private double _strength;

    private BudgetController(EdpCompressOptions options, EdpNet net, ProximalGroupLasso prox, (long, long) full, int interval)
    {
        (_options, _prox, _full, _interval) = (options, prox, full, interval);
        // Shrinking every group, the strength starts low, since each step also shrinks what the network keeps.
        // Shrinking only the chosen groups harms nothing else, so they shrink at full strength from the start.
        // A parameter budget alone ranks groups by importance per parameter; otherwise per MAC.
        (_importance, _groupCosts, _strength) = options.BudgetPenalty == EdpBudgetPenalty.LeastImportant
            ? (new GroupImportance(prox.Groups), PenaltyWeights.GroupCosts(net.Graph, perPixel: options.TargetMacsRatio is not null), MaxMultiplier)
            : (null, null, 1);
    }

    /// <summary>The running importance estimates (null with <see cref="EdpBudgetPenalty.AllGroups"/>), for checkpoints.</summary>
    public GroupImportance? Importance => _importance;

    /// <summary>The penalty multiplier now in force: the controller's strength, or 0 while it pauses.</summary>
    public double Multiplier { get; private set; } = 1;

    /// <summary>A controller for <paramref name="net"/>, or null when the options set no budget or train a plain network
    /// (<see cref="EdpCompressOptions.Compress"/> false: the baseline has nothing to remove). Throws when the budget is
    /// below what Pruning &amp; Merging can reach at all.</summary>
    public static BudgetController? Create(EdpCompressOptions options, EdpNet net, ProximalGroupLasso prox, long stepsPerEpoch)
    {
        if (!options.Compress || (options.TargetMacsRatio is null && options.TargetParamsRatio is null))
            return null;
        var plans = PruningPlanner.Plan(net, 0, options.ChannelGroup, options.ChannelMultiple);
        (long Macs, long Params) full = (plans.Sum(p => p.Before.Macs), plans.Sum(p => p.Before.Params));
        var floor = Minimum(net, options);
        void Check(double? target, double reachable, string name)
        {
            if (target is double t && t < reachable)
                throw new ArgumentOutOfRangeException(name, t,
                    $"{name} is {t:0.###}, but this network cannot go below {reachable:0.###} of its cost: every layer keeps at least one channel and one basis filter, " +
                    "and plain (uncompressed) layers and channels feeding a residual sum or the classifier keep their width" +
                    (options.ChannelMultiple > 1 ? $"; with {nameof(options.ChannelMultiple)} = {options.ChannelMultiple}, a layer keeps at least that many (1 allows fewer)" : "") +
                    $". Ask for at least that ratio, or set {name} to null to train with the fixed penalties.");
        }
        Check(options.TargetMacsRatio, (double)floor.Macs / full.Macs, nameof(options.TargetMacsRatio));
        Check(options.TargetParamsRatio, (double)floor.Params / full.Params, nameof(options.TargetParamsRatio));
        return new BudgetController(options, net, prox, full, (int)Math.Max(1, stepsPerEpoch / 100));
    }

    /// <summary>Everything the controller carries from step to step, for checkpoints.</summary>
    public double[] State => [_calls, Multiplier, _strength];

    /// <summary>Continues from a <see cref="State"/> saved by a checkpoint.</summary>
    public void Restore(IReadOnlyList<double> state) => (_calls, Multiplier, _strength) = ((int)state[0], state[1], state[2]);

    /// <summary>Called once a step between the backward pass and the optimizer step, while the pattern is not frozen.</summary>
    public void Observe() => _importance?.Accumulate();

    /// <summary>Called once a step; returns the multiplier for this step's penalties.</summary>
    public double Update(EdpNet net, double progress)
    {
        if (_calls++ % _interval != 0)
            return Multiplier;
        double ramp = SparsityRamp.At(progress, _options.PenaltyRampFraction);
        if (_importance is not null)
        {
            // The path decides how many groups are chosen; the chosen ones keep fading at full strength, since
            // pausing would let the task gradient grow back groups that are already on their way out.
            _prox.Target(Choose(net, ramp));
            return Multiplier = _strength;
        }
        var live = Plan(net, _options, Math.Max(_options.PruneThreshold, ProjectionThreshold));
        double error = Math.Max(
            Error(_options.TargetMacsRatio, (double)live.Macs / _full.Macs, ramp),
            Error(_options.TargetParamsRatio, (double)live.Params / _full.Params, ramp));
        _strength = Math.Clamp(_strength * Math.Exp((error > 0 ? GainUp : GainDown) * error), MinMultiplier, MaxMultiplier);
        Multiplier = error > 0 ? _strength : 0;
        return Multiplier;
    }

    /// <summary>Zeroes groups until the budget holds: the least important ones, or the weakest relative to the largest
    /// of their layer (see the remarks).</summary>
    public void Enforce(EdpNet net, Action<string> log)
    {
        if (Meets(Plan(net, _options, _options.PruneThreshold)))
            return;
        if (_importance is not null)
        {
            var chosen = PruningPlanner.Plan(net, _options.PruneThreshold, _options.ChannelGroup, _options.ChannelMultiple, Choose(net, 1));
            GroupZeroing.Apply(net, chosen);
            Log(log, "cut the least important groups", Total(chosen));
            return;
        }
        double lo = _options.PruneThreshold, hi = 1;
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
        Log(log, $"cut every group under {hi:0.####} of its layer's largest", Total(plans));
    }

    private void Log(Action<string> log, string what, (long Macs, long Params) cost)
        => log($"budget: {what}: MACs {(double)cost.Macs / _full.Macs:P1}, params {(double)cost.Params / _full.Params:P1} of the plain net.");

    /// <summary>The groups to remove now: as few of the least important as bring the cost onto the path at
    /// <paramref name="ramp"/> (1: the budget itself).</summary>
    private Dictionary<string, (long[]? Outputs, long[]? Rank)> Choose(EdpNet net, double ramp)
        => ImportanceSelection.Choose(net, _prox.Groups, _importance!, _groupCosts!, _options, plans => Meets(Total(plans), ramp));

    /// <summary>Whether <paramref name="cost"/> is within the budget, or within the path to it at <paramref name="ramp"/>.</summary>
    private bool Meets((long Macs, long Params) cost, double ramp = 1)
        => (_options.TargetMacsRatio is not double m || cost.Macs <= (1 - (1 - m) * ramp) * _full.Macs)
        && (_options.TargetParamsRatio is not double p || cost.Params <= (1 - (1 - p) * ramp) * _full.Params);

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
