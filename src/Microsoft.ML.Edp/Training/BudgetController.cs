using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Training;

/// <summary>Steers training towards a cost budget (<see cref="BudgetSettings"/>) instead of a fixed penalty. Each target
/// of the budget (MACs, parameters, predicted latency) is a <see cref="CostModel"/> and a fraction of the plain
/// network's cost by it; every target is met.</summary>
/// <remarks>
/// Every few steps the cost the network should have is read off a path that falls from the full cost to the target
/// along the penalty ramp. What happens then depends on <see cref="BudgetSettings.Penalty"/>:
/// <list type="bullet">
/// <item><see cref="EdpBudgetPenalty.LeastImportant"/>: <see cref="ImportanceSelection"/> chooses the fewest groups,
/// least important first by a running Taylor estimate per unit of cost (latency where the budget has a latency target,
/// else MACs, else parameters), whose removal meets the path; the proximal step
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
    private readonly IReadOnlyList<Target> _targets;
    private readonly PruningSettings _pruning;
    private readonly LayerCost _full;
    private readonly int _interval;
    private readonly ProximalGroupLasso _prox;
    private readonly GroupImportance? _importance;
    private readonly IReadOnlyDictionary<string, GroupCost>? _groupCosts;
    private readonly bool _layerNormalized;
    private int _calls;
    private double _strength;

    /// <summary>One target of the budget: the cost it is measured by, the plain network's cost by it, and the fraction of
    /// that to keep.</summary>
    private sealed record Target(CostModel Cost, double Full, double Ratio);

    private BudgetController(IReadOnlyList<Target> targets, EdpBudgetPenalty penalty, bool layerNormalized, PruningSettings pruning, EdpNet net, ProximalGroupLasso prox, LayerCost full, int interval)
    {
        (_targets, _pruning, _prox, _full, _interval, _layerNormalized) = (targets, pruning, prox, full, interval, layerNormalized);
        // Shrinking every group, the strength starts low, since each step also shrinks what the network keeps.
        // Shrinking only the chosen groups harms nothing else, so they shrink at full strength from the start.
        // Groups are ranked per unit of the first target's cost: latency, else MACs, else parameters.
        (_importance, _groupCosts, _strength) = penalty == EdpBudgetPenalty.LeastImportant
            ? (new GroupImportance(prox.Groups), targets[0].Cost.Groups(net.Graph), MaxMultiplier)
            : (null, null, 1);
    }

    /// <summary>The running importance estimates (null with <see cref="EdpBudgetPenalty.AllGroups"/>), for checkpoints.</summary>
    public GroupImportance? Importance => _importance;

    /// <summary>The penalty multiplier now in force: the controller's strength, or 0 while it pauses.</summary>
    public double Multiplier { get; private set; } = 1;

    /// <summary>A controller for <paramref name="net"/>, or null without a <paramref name="budget"/>. A latency target
    /// is measured by <paramref name="latency"/>, the table's prediction at the scoring batch. Throws when the budget is
    /// below what Pruning &amp; Merging can reach at all.</summary>
    public static BudgetController? Create(BudgetSettings? budget, PruningSettings pruning, EdpNet net, ProximalGroupLasso prox, long stepsPerEpoch,
        CostModel? latency = null)
    {
        if (budget is null)
            return null;
        var plain = PruningPlanner.Plan(net, pruning with { Threshold = 0 });
        var asked = Targets(budget, plain, latency);
        var reachable = Reachable(asked, plain, net, pruning);
        if (FirstUnreachable(asked, reachable) is (var target, var floor))
            throw new ArgumentOutOfRangeException(target.Option, target.Value,
                $"{target.Option} is {target.Value}, but this network cannot go below {target.Describe(floor)}: every layer keeps at least one channel and one basis filter, " +
                "and plain (uncompressed) layers (but those in a residual stream with a compressed layer) and the classifier's classes keep their width" +
                (pruning.Multiple > 1 ? $"; with {nameof(EdpCompressOptions.ChannelMultiple)} = {pruning.Multiple}, a layer keeps at least that many (1 allows fewer)" : "") +
                $". Ask for at least that, or set {target.Option} to null to train with the fixed penalties.");
        var targets = asked.Zip(reachable, (a, r) => new Target(a.Cost, r.Full, a.Ratio)).ToList();
        var full = plain.Aggregate(default(LayerCost), (sum, p) => sum + p.Before);
        return new BudgetController(targets, budget.Penalty, budget.LayerNormalizedImportance, pruning, net, prox, full, (int)Math.Max(1, stepsPerEpoch / 100));
    }

    /// <summary>The largest of <paramref name="pruning"/>'s multiple and its halvings at which <paramref name="budget"/>
    /// is reachable on <paramref name="net"/> (1 when none is; <see cref="Create"/> then says why).</summary>
    public static int ReachableMultiple(BudgetSettings budget, PruningSettings pruning, EdpNet net, CostModel? latency = null)
    {
        var plain = PruningPlanner.Plan(net, pruning with { Threshold = 0 });
        var asked = Targets(budget, plain, latency);
        for (int multiple = pruning.Multiple; multiple > 1; multiple /= 2)
        {
            if (FirstUnreachable(asked, Reachable(asked, plain, net, pruning with { Multiple = multiple })) is null)
                return multiple;
        }
        return 1;
    }

    /// <summary>One target as the options ask it: its cost, the ratio of the plain network's cost to keep, the option,
    /// the value as asked and how a ratio of that cost is written in an error.</summary>
    private sealed record Asked(CostModel Cost, double Ratio, string Option, string Value, Func<double, string> Describe);

    /// <summary>The targets of <paramref name="budget"/>, latency first: the first target's cost ranks the groups.</summary>
    private static List<Asked> Targets(BudgetSettings budget, IReadOnlyList<LayerPlan> plain, CostModel? latency)
    {
        var targets = new List<Asked>();
        if (budget.HasLatency)
        {
            var predicted = latency ?? throw new InvalidOperationException("A latency budget needs the latency table's prediction; none was given.");
            double plainMs = predicted.Before(plain);
            string Of(double r) => FormattableString.Invariant($"{r:0.###} of its predicted latency ({r * plainMs:0.###} ms, {predicted.Name})");
            if (budget.TargetLatencyRatio is double ratio)
                targets.Add(new(predicted, ratio, nameof(EdpCompressOptions.TargetLatencyRatio), $"{ratio:0.###}", Of));
            if (budget.TargetLatencyMilliseconds is double ms)
                targets.Add(new(predicted, ms / plainMs, nameof(EdpCompressOptions.TargetLatencyMilliseconds), FormattableString.Invariant($"{ms:0.###} ms"), Of));
        }
        if (budget.TargetMacsRatio is double macs)
            targets.Add(new(CostModel.Macs, macs, nameof(EdpCompressOptions.TargetMacsRatio), $"{macs:0.###}", r => $"{r:0.###} of its cost"));
        if (budget.TargetParamsRatio is double parameters)
            targets.Add(new(CostModel.Params, parameters, nameof(EdpCompressOptions.TargetParamsRatio), $"{parameters:0.###}", r => $"{r:0.###} of its cost"));
        return targets;
    }

    /// <summary>The first target asked below the floor Pruning &amp; Merging can reach, with that floor; null when all are reachable.</summary>
    private static (Asked Target, double Floor)? FirstUnreachable(IReadOnlyList<Asked> asked, (double Full, double Floor)[] reachable)
        => asked.Zip(reachable).Where(t => t.First.Ratio < t.Second.Floor).Select(t => ((Asked, double)?)(t.First, t.Second.Floor)).FirstOrDefault();

    /// <summary>Each target's plain cost, and the lowest ratio of it Pruning &amp; Merging can reach with
    /// <paramref name="pruning"/>: a threshold of 1 leaves one group of each kind wherever groups exist.</summary>
    private static (double Full, double Floor)[] Reachable(IReadOnlyList<Asked> targets, IReadOnlyList<LayerPlan> plain, EdpNet net, PruningSettings pruning)
    {
        var floor = PruningPlanner.Plan(net, pruning with { Threshold = 1 });
        return targets.Select(t => (t.Cost.Before(plain), t.Cost.After(floor) / t.Cost.Before(plain))).ToArray();
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
            // pausing would let the task gradient grow back groups that are already on their way out. The path's
            // last gap is closed as the budget's is: a chosen group dies within steps, so a whole block taken to
            // close a small gap on the path is lost for good (VGG-S's channels, in blocks of 8, ended at 40 % of
            // its MACs for a budget of 50 %).
            _prox.Target(Choose(net, ramp));
            return Multiplier = _strength;
        }
        var live = PruningPlanner.Plan(net, _pruning with { Threshold = Math.Max(_pruning.Threshold, ProjectionThreshold) });
        double error = _targets.Max(t => Error(t.Ratio, t.Cost.After(live) / t.Full, ramp));
        _strength = Math.Clamp(_strength * Math.Exp((error > 0 ? GainUp : GainDown) * error), MinMultiplier, MaxMultiplier);
        Multiplier = error > 0 ? _strength : 0;
        return Multiplier;
    }

    /// <summary>Zeroes groups until the budget holds: the least important ones, or the weakest relative to the largest
    /// of their layer (see the remarks).</summary>
    public void Enforce(EdpNet net, Action<string> log)
    {
        if (Meets(PruningPlanner.Plan(net, _pruning)))
            return;
        if (_importance is not null)
        {
            var chosen = PruningPlanner.Plan(net, _pruning, Choose(net, 1));
            GroupZeroing.Apply(net, chosen);
            Log(log, "cut the least important groups", chosen);
            return;
        }
        double lo = _pruning.Threshold, hi = 1;
        for (int i = 0; i < 40; i++)
        {
            double mid = (lo + hi) / 2;
            if (Meets(PruningPlanner.Plan(net, _pruning with { Threshold = mid })))
                hi = mid;
            else
                lo = mid;
        }
        var plans = PruningPlanner.Plan(net, _pruning with { Threshold = hi });
        GroupZeroing.Apply(net, plans);
        Log(log, $"cut every group under {hi:0.####} of its layer's largest", plans);
    }

    private void Log(Action<string> log, string what, IReadOnlyList<LayerPlan> plans)
    {
        var cost = plans.Aggregate(default(LayerCost), (sum, p) => sum + p.After);
        string latency = string.Concat(_targets.Where(t => t.Cost is LatencyCost).Take(1).Select(t => $", predicted {t.Cost.Name} {t.Cost.After(plans) / t.Full:P1}"));
        log($"budget: {what}: MACs {(double)cost.Macs / _full.Macs:P1}, params {(double)cost.Params / _full.Params:P1}{latency} of the plain net.");
    }

    /// <summary>The groups to remove now: as few of the least important as bring the cost onto the path at
    /// <paramref name="ramp"/> (1: the budget itself).</summary>
    private Dictionary<string, KeptGroups> Choose(EdpNet net, double ramp)
        => ImportanceSelection.Choose(net, _prox.Groups, _importance!, _groupCosts!, _pruning, plans => Meets(plans, ramp), _layerNormalized, closeLastGap: true);

    /// <summary>Whether every target holds after <paramref name="plans"/>, or the path to it at <paramref name="ramp"/>.</summary>
    private bool Meets(IReadOnlyList<LayerPlan> plans, double ramp = 1)
        => _targets.All(t => t.Cost.After(plans) <= (1 - (1 - t.Ratio) * ramp) * t.Full);

    /// <summary>How far the projected ratio is above the path to the target, in units of the whole cut.</summary>
    private static double Error(double target, double projected, double ramp)
        => (projected - (1 - (1 - target) * ramp)) / Math.Max(1 - target, 1e-3);
}
