using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Training;

/// <summary>Chooses the groups a budget removes: the least important for the cost they carry, and as few as meet the
/// cost asked for (<see cref="EdpBudgetPenalty.LeastImportant"/>).</summary>
/// <remarks>Groups are ranked by their <see cref="GroupImportance"/>, as a share of the sum over their layer's groups of
/// the same kind (Molchanov et al., ICLR 2017: so that no layer is spared only because its estimates are large overall;
/// a residual stream's channel groups, the output channels of all its members, have as many shares as members),
/// divided by the cost one group carries by the budget's measure (<see cref="Cost.CostModel.Groups"/>: predicted
/// latency, MACs or parameters), and the shortest prefix of that ranking that meets the cost is taken. The prefix is
/// found by bisection, since removing more never costs more. With <c>closeLastGap</c> (as the budget asks, on its path
/// and at its end) the last step is the one further block of any layer that meets the cost at the least importance
/// lost, rather than the prefix's next group, which can take a whole block of a costly layer to close a small gap. Channels a grouped conv ties in a unit
/// (<see cref="ChannelUnits"/>) are one group. Each layer keeps at least one group of each kind, and one channel of
/// every part a Split or Slice takes, and kept counts are rounded up to <see cref="PruningSettings.Multiple"/> with the
/// best of the dropped groups. Basis filters of a layer whose kept pair still merges back into one conv (by the merge rule's cost)
/// would save nothing, so they are not chosen.</remarks>
internal static class ImportanceSelection
{
    /// <summary>What each layer keeps, by name, in the form <see cref="PruningPlanner.Plan"/> takes: kept output
    /// channels and kept basis filters (all of them where none are removed).</summary>
    public static Dictionary<string, KeptGroups> Choose(
        EdpNet net, IReadOnlyList<LayerGroups> layers, GroupImportance importance,
        IReadOnlyDictionary<string, GroupCost> costs, PruningSettings pruning,
        Func<IReadOnlyList<LayerPlan>, bool> meets, bool layerNormalized = true, bool closeLastGap = false)
    {
        var scored = Rank(layers, importance, costs, layerNormalized);
        var ranked = scored.Select(s => s.Group).ToList();
        Dictionary<string, KeptGroups> Chosen(int count) => Keep(net, layers, ranked.Take(count).ToList(), pruning);
        bool Meets(int count) => meets(PruningPlanner.Plan(net, pruning, Chosen(count)));
        int lo = 0, hi = ranked.Count;
        if (Meets(lo))
            return Chosen(lo);
        // Even removing every removable group may miss (the network's floor): then remove them all.
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (Meets(mid))
                hi = mid;
            else
                lo = mid;
        }
        return closeLastGap && hi < ranked.Count ? CloseLastGap(net, layers, scored, hi - 1, pruning, meets) : Chosen(hi);
    }

    /// <summary>The groups of the shortest prefix short of the cost (<paramref name="before"/> groups), and the one
    /// further step of one layer, of one kind, that meets it losing the least importance. With kept counts in
    /// multiples, the prefix's last group can drop a whole block of a costly layer to close a small gap (a VGG-M cut to
    /// 34.6 % of its MACs for a budget of 50 %); another layer's block may close it at less loss.</summary>
    private static Dictionary<string, KeptGroups> CloseLastGap(EdpNet net, IReadOnlyList<LayerGroups> layers,
        List<(Group Group, double Score, double Importance)> scored, int before, PruningSettings pruning,
        Func<IReadOnlyList<LayerPlan>, bool> meets)
    {
        var prefix = scored.Take(before).Select(s => s.Group).ToList();
        var steps = new List<(double Loss, List<Group> Dropped)>();
        foreach (var step in scored.Skip(before).GroupBy(s => (s.Group.Layer, s.Group.IsChannel)))
        {
            // The layer's next groups in ranking order, as many as make its kept count fall by one step.
            var (index, isChannel) = step.Key;
            var layer = layers[index];
            var units = isChannel ? layer.Units : ChannelUnits.Singles(layer.Weight.Rank);
            var dropped = prefix.Where(g => g.Layer == index && g.IsChannel == isChannel).Select(g => g.Index).ToList();
            int keptBefore = Kept(units, dropped, pruning.Multiple).Length;
            var extra = new List<Group>();
            double loss = 0;
            foreach (var (group, _, importance) in step)
            {
                extra.Add(group);
                dropped.Add(group.Index);
                loss += importance;
                if (Kept(units, dropped, pruning.Multiple).Length < keptBefore)
                {
                    steps.Add((loss, [.. prefix, .. extra]));
                    break;
                }
            }
        }
        foreach (var (_, dropped) in steps.OrderBy(s => s.Loss))
        {
            var chosen = Keep(net, layers, dropped, pruning);
            if (meets(PruningPlanner.Plan(net, pruning, chosen)))
                return chosen;
        }
        return Keep(net, layers, scored.Take(before + 1).Select(s => s.Group).ToList(), pruning);
    }

    /// <summary>One group: its layer's index, channel or rank, its index within the layer.</summary>
    private readonly record struct Group(int Layer, bool IsChannel, int Index);

    /// <summary>Every group with its score (importance per unit of cost) and its importance as ranked, least important
    /// per unit of cost first; ties keep graph order.</summary>
    private static List<(Group Group, double Score, double Importance)> Rank(IReadOnlyList<LayerGroups> layers, GroupImportance importance,
        IReadOnlyDictionary<string, GroupCost> costs, bool layerNormalized)
    {
        var scored = new List<(Group Group, double Score, double Importance)>();
        float[]? Normalized(float[]? v, int shares)
        {
            if (!layerNormalized || v is null)
                return v;
            double sum = v.Sum(x => (double)x);
            return sum > 0 ? v.Select(x => (float)(shares * x / sum)).ToArray() : v;
        }
        for (int i = 0; i < layers.Count; i++)
        {
            var (rank, channel) = importance.Of(i);
            // A residual stream's channel groups are the output channels of every member: each member counts for one
            // share, as if each were normalised alone. A depthwise conv that follows a layer's channels has no groups of
            // its own to normalise, and adds none.
            (rank, channel) = (Normalized(rank, 1), Normalized(channel, layers[i].StreamMembers));
            var cost = costs[layers[i].Name];
            if (rank is not null)
                scored.AddRange(rank.Select((v, j) => (new Group(i, false, j), v / cost.Rank, (double)v)));
            // A channel group is a unit of channels (one channel but where a grouped conv ties them), each holding the
            // unit's estimate; it carries the cost of all of them.
            if (channel is not null)
            {
                var units = layers[i].Units;
                scored.AddRange(units.FirstChannels().Select((c, u) => (new Group(i, true, u), channel[c] / (cost.Channel * units.Size(u)), (double)channel[c])));
            }
        }
        return scored.OrderBy(s => s.Score).ThenBy(s => s.Group.Layer).ThenBy(s => s.Group.IsChannel).ThenBy(s => s.Group.Index).ToList();
    }

    /// <summary>What each layer keeps when <paramref name="dropped"/> (in ranking order) are removed.</summary>
    private static Dictionary<string, KeptGroups> Keep(
        EdpNet net, IReadOnlyList<LayerGroups> layers, List<Group> dropped, PruningSettings pruning)
    {
        var chosen = new Dictionary<string, KeptGroups>();
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            // Dropped groups in ranking order, so the last ones are the best to give back.
            List<int> Dropped(bool channel) => dropped.Where(g => g.Layer == i && g.IsChannel == channel).Select(g => g.Index).ToList();
            var outputs = layer.HasChannelGroups
                ? Kept(layer.Units, Dropped(true), pruning.Multiple)
                : GroupSelection.All(layer.Weight.OutChannels);
            chosen[layer.Name] = new KeptGroups(outputs, layer.Weight.Columns is null ? null : Kept(ChannelUnits.Singles(layer.Weight.Rank), Dropped(false), pruning.Multiple));
        }
        // A merged pair costs the same whatever its rank, so dropping its basis filters would only lose accuracy.
        var ranks = layers.ToDictionary(l => l.Name, l => l.Weight.Rank);
        foreach (var plan in PruningPlanner.Plan(net, pruning, chosen))
            if (plan.Merged && chosen.TryGetValue(plan.Name, out var c))
                chosen[plan.Name] = c with { Rank = GroupSelection.All(ranks[plan.Name]) };
        return chosen;
    }

    /// <summary>Every group but the dropped ones, the best of those given back as the units need
    /// (<see cref="ChannelUnits.Complete"/>).</summary>
    private static long[] Kept(ChannelUnits units, List<int> dropped, int multiple)
        => units.Complete(Enumerable.Range(0, units.Count).Except(dropped), Enumerable.Reverse(dropped).ToList(), multiple);
}
