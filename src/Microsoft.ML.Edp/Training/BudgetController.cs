using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Training;

/// <summary>Steers training towards a cost budget (<see cref="BudgetSettings"/>) instead of a fixed penalty.</summary>
/// <remarks>
/// Every few steps the cost the network should have is read off a path that falls from the full cost to the target
/// along the penalty ramp. What happens then depends on <see cref="BudgetSettings.Penalty"/>:
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
    private readonly BudgetSettings _budget;
    private readonly PruningSettings _pruning;
    private readonly LayerCost _full;
    private readonly int _interval;
    private readonly ProximalGroupLasso _prox;
    private readonly GroupImportance? _importance;
    private readonly IReadOnlyDictionary<string, GroupCost>? _groupCosts;
    private int _calls;
    private double _strength;

    private BudgetController(BudgetSettings budget, PruningSettings pruning, EdpNet net, ProximalGroupLasso prox, LayerCost full, int interval)
    {
        (_budget, _pruning, _prox, _full, _interval) = (budget, pruning, prox, full, interval);
        // Shrinking every group, the strength starts low, since each step also shrinks what the network keeps.
        // Shrinking only the chosen groups harms nothing else, so they shrink at full strength from the start.
        // A parameter budget alone ranks groups by importance per parameter; otherwise per MAC.
        (_importance, _groupCosts, _strength) = budget.Penalty == EdpBudgetPenalty.LeastImportant
            ? (new GroupImportance(prox.Groups), GroupCosts.Of(net.Graph, perPixel: budget.TargetMacsRatio is not null), MaxMultiplier)
            : (null, null, 1);
    }

    /// <summary>The running importance estimates (null with <see cref="EdpBudgetPenalty.AllGroups"/>), for checkpoints.</summary>
    public GroupImportance? Importance => _importance;

    /// <summary>The penalty multiplier now in force: the controller's strength, or 0 while it pauses.</summary>
    public double Multiplier { get; private set; } = 1;

    /// <summary>A controller for <paramref name="net"/>, or null without a <paramref name="budget"/>. Throws when the
    /// budget is below what Pruning &amp; Merging can reach at all.</summary>
    public static BudgetController? Create(BudgetSettings? budget, PruningSettings pruning, EdpNet net, ProximalGroupLasso prox, long stepsPerEpoch)
    {
        if (budget is null)
            return null;
        var (full, macsFloor, paramsFloor) = Reachable(net, pruning);
        void Check(double? target, double reachable, string name)
        {
            if (target is double t && t < reachable)
                throw new ArgumentOutOfRangeException(name, t,
                    $"{name} is {t:0.###}, but this network cannot go below {reachable:0.###} of its cost: every layer keeps at least one channel and one basis filter, " +
                    "and plain (uncompressed) layers and channels feeding a residual sum or the classifier keep their width" +
                    (pruning.Multiple > 1 ? $"; with {nameof(EdpCompressOptions.ChannelMultiple)} = {pruning.Multiple}, a layer keeps at least that many (1 allows fewer)" : "") +
                    $". Ask for at least that ratio, or set {name} to null to train with the fixed penalties.");
        }
        Check(budget.TargetMacsRatio, macsFloor, nameof(EdpCompressOptions.TargetMacsRatio));
        Check(budget.TargetParamsRatio, paramsFloor, nameof(EdpCompressOptions.TargetParamsRatio));
        return new BudgetController(budget, pruning, net, prox, full, (int)Math.Max(1, stepsPerEpoch / 100));
    }

    /// <summary>The largest of <paramref name="pruning"/>'s multiple and its halvings at which <paramref name="budget"/>
    /// is reachable on <paramref name="net"/> (1 when none is; <see cref="Create"/> then says why).</summary>
    public static int ReachableMultiple(BudgetSettings budget, PruningSettings pruning, EdpNet net)
    {
        for (int multiple = pruning.Multiple; multiple > 1; multiple /= 2)
        {
            var (_, macs, parameters) = Reachable(net, pruning with { Multiple = multiple });
            if (!(budget.TargetMacsRatio < macs) && !(budget.TargetParamsRatio < parameters))
                return multiple;
        }
        return 1;
    }

    /// <summary>The plain network's cost, and the lowest MACs and parameter ratios Pruning &amp; Merging can reach.</summary>
    private static (LayerCost Full, double Macs, double Params) Reachable(EdpNet net, PruningSettings pruning)
    {
        var full = PruningPlanner.Plan(net, pruning with { Threshold = 0 }).Aggregate(default(LayerCost), (sum, p) => sum + p.Before);
        var floor = Plan(net, pruning with { Threshold = 1 });
        return (full, (double)floor.Macs / full.Macs, (double)floor.Params / full.Params);
    }

    /// <summary>Everything the controller carries from step to step, for checkpoints.</summary>
    public double[] State => [_calls, Multiplier, _strength];

    /// <summary>Continues from a <see cref="State"/> saved by a checkpoint.</summary>
    public void Restore(IReadOnlyList<double> state) => (_calls, Multiplier, _strength) = ((int)state[0], state[1], state[2]);

    /// <summary>Called once a step between the backward pass and the optimizer step, while the pattern is not frozen.</summary>
    public void Observe() => _importance?.Accumulate();

    /// <summary>Called once a step with the penalty ramp s(t) of this step; returns the multiplier for this step's penalties.</summary>
    public double Update(EdpNet net, double ramp)
    {
        if (_calls++ % _interval != 0)
            return Multiplier;
        if (_importance is not null)
        {
            // The path decides how many groups are chosen; the chosen ones keep fading at full strength, since
            // pausing would let the task gradient grow back groups that are already on their way out.
            _prox.Target(Choose(net, ramp));
            return Multiplier = _strength;
        }
        var live = Plan(net, _pruning with { Threshold = Math.Max(_pruning.Threshold, ProjectionThreshold) });
        double error = Math.Max(
            Error(_budget.TargetMacsRatio, (double)live.Macs / _full.Macs, ramp),
            Error(_budget.TargetParamsRatio, (double)live.Params / _full.Params, ramp));
        _strength = Math.Clamp(_strength * Math.Exp((error > 0 ? GainUp : GainDown) * error), MinMultiplier, MaxMultiplier);
        Multiplier = error > 0 ? _strength : 0;
        return Multiplier;
    }

    /// <summary>Zeroes groups until the budget holds: the least important ones, or the weakest relative to the largest
    /// of their layer (see the remarks).</summary>
    public void Enforce(EdpNet net, Action<string> log)
    {
        if (Meets(Plan(net, _pruning)))
            return;
        if (_importance is not null)
        {
            var chosen = PruningPlanner.Plan(net, _pruning, Choose(net, 1));
            GroupZeroing.Apply(net, chosen);
            Log(log, "cut the least important groups", Total(chosen));
            return;
        }
        double lo = _pruning.Threshold, hi = 1;
        for (int i = 0; i < 40; i++)
        {
            double mid = (lo + hi) / 2;
            if (Meets(Plan(net, _pruning with { Threshold = mid })))
                hi = mid;
            else
                lo = mid;
        }
        var plans = PruningPlanner.Plan(net, _pruning with { Threshold = hi });
        GroupZeroing.Apply(net, plans);
        Log(log, $"cut every group under {hi:0.####} of its layer's largest", Total(plans));
    }

    private void Log(Action<string> log, string what, LayerCost cost)
        => log($"budget: {what}: MACs {(double)cost.Macs / _full.Macs:P1}, params {(double)cost.Params / _full.Params:P1} of the plain net.");

    /// <summary>The groups to remove now: as few of the least important as bring the cost onto the path at
    /// <paramref name="ramp"/> (1: the budget itself).</summary>
    private Dictionary<string, KeptGroups> Choose(EdpNet net, double ramp)
        => ImportanceSelection.Choose(net, _prox.Groups, _importance!, _groupCosts!, _pruning, plans => Meets(Total(plans), ramp));

    /// <summary>Whether <paramref name="cost"/> is within the budget, or within the path to it at <paramref name="ramp"/>.</summary>
    private bool Meets(LayerCost cost, double ramp = 1)
        => (_budget.TargetMacsRatio is not double m || cost.Macs <= (1 - (1 - m) * ramp) * _full.Macs)
        && (_budget.TargetParamsRatio is not double p || cost.Params <= (1 - (1 - p) * ramp) * _full.Params);

    /// <summary>How far the projected ratio is above the path to the target, in units of the whole cut.</summary>
    private static double Error(double? target, double projected, double ramp)
        => target is double t ? (projected - (1 - (1 - t) * ramp)) / Math.Max(1 - t, 1e-3) : double.NegativeInfinity;

    /// <summary>The cost after Pruning &amp; Merging with <paramref name="pruning"/>; a threshold of 1 gives the cheapest
    /// network PM could produce, one group of each kind left wherever groups exist.</summary>
    private static LayerCost Plan(EdpNet net, PruningSettings pruning) => Total(PruningPlanner.Plan(net, pruning));

    private static LayerCost Total(IReadOnlyList<LayerPlan> plans) => plans.Aggregate(default(LayerCost), (sum, p) => sum + p.After);
}
