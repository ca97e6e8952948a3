using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>Decides, from the group norms alone, what Pruning &amp; Merging keeps in each layer. Cheap enough to run
/// every epoch for the live rank and width.</summary>
internal static class PruningPlanner
{
    /// <summary>The plan of every conv and linear layer, in graph order: the groups <paramref name="settings"/> keep,
    /// except where <paramref name="chosen"/> names a layer's groups (by layer name, null for what the norms say): the
    /// budget's importance selection plans with those.</summary>
    public static IReadOnlyList<LayerPlan> Plan(EdpNet net, PruningSettings settings, IReadOnlyDictionary<string, KeptGroups>? chosen = null)
    {
        var graph = net.Graph;
        var shapes = graph.Shapes();
        var couplings = ChannelCoupling.Analyse(graph).ToDictionary(c => c.Layer.Name);
        var selected = couplings.Values.ToDictionary(c => c.Layer.Name, c => Selected(net, c, settings, chosen?.GetValueOrDefault(c.Layer.Name) ?? default));
        // The kept channels of every value: a layer's kept outputs flow through the channel-wise ops to its readers.
        var kept = new Dictionary<string, long[]> { [NetworkGraph.InputName] = GroupSelection.All(graph.InChannels) };
        var plans = new List<LayerPlan>();
        foreach (var layer in graph.Layers)
        {
            if (couplings.TryGetValue(layer.Name, out var coupling))
            {
                var (outputs, rank) = selected[layer.Name];
                // A member of a residual stream keeps the channels the stream's owner keeps, which may come later.
                if (coupling.Stream?.Owner is { } owner)
                    outputs = selected[owner].Outputs;
                if (coupling.Follows is { } gated)
                    outputs = kept[gated];
                int perChannel = (net.Weighted[layer.Name].bias is null ? 0 : 1) + (coupling.Norm is null ? 0 : 2);
                var inputs = layer is ConvLayer { Groups: > 1 } grouped ? GroupInputs(grouped, kept[layer.Input]) : kept[layer.Input];
                plans.Add(new LayerPlan(layer.Name, layer is ConvLayer, coupling.Layer.WeightShape, graph.OutputPixels(layer.Name, shapes),
                    inputs, outputs, rank, perChannel, settings.MergeRule));
                kept[layer.Name] = outputs;
            }
            else
                kept[layer.Name] = Passed(layer, kept, shapes);
        }
        return plans;
    }

    /// <summary>The groups one layer keeps: those <paramref name="fixedGroups"/> names, else those its norms keep (every
    /// channel of a layer without channel groups, and no rank for a plain layer).</summary>
    private static (long[] Outputs, long[]? Rank) Selected(EdpNet net, ChannelCoupling coupling, PruningSettings settings, KeptGroups fixedGroups)
    {
        // A layer whose groups are all chosen needs no norms: the budget's selection plans dozens of times an update.
        var (outputs, rank) = fixedGroups is { Outputs: { } o } && (fixedGroups.Rank is not null || !coupling.Layer.IsBlock) ? (o, fixedGroups.Rank)
            : LayerGroups.Of(net, coupling) is { } groups
                ? Select(groups, coupling.Layer.Outputs, settings)
                : (GroupSelection.All(coupling.Layer.Outputs), null);
        return (fixedGroups.Outputs ?? outputs, fixedGroups.Rank ?? rank);
    }

    /// <summary>The kept channels of every value of <paramref name="graph"/> under <paramref name="plans"/>, by name.</summary>
    public static Dictionary<string, long[]> Kept(NetworkGraph graph, IReadOnlyList<LayerPlan> plans)
    {
        var shapes = graph.Shapes();
        var planOf = plans.ToDictionary(p => p.Name);
        var kept = new Dictionary<string, long[]> { [NetworkGraph.InputName] = GroupSelection.All(graph.InChannels) };
        foreach (var layer in graph.Layers)
            kept[layer.Name] = layer is WeightLayer ? planOf[layer.Name].KeptOutputs : Passed(layer, kept, shapes);
        return kept;
    }

    /// <summary>The kept channels of a layer without weights, from those of its inputs.</summary>
    private static long[] Passed(LayerNode layer, Dictionary<string, long[]> kept, IReadOnlyDictionary<string, long[]> shapes) => layer switch
    {
        ConcatLayer c => Concatenated(c, kept, shapes),
        ChannelSelectLayer s => Selected(s, kept[s.Input]),
        ChannelGateLayer => kept[layer.Input],
        AddLayer sum => Summed(sum, kept),
        { PassesChannels: true } => kept[layer.Input],
        _ => GroupSelection.All(shapes[layer.Name][0]),
    };

    /// <summary>The kept channels of a residual sum: those of both its inputs, which a residual stream keeps alike (and
    /// every channel elsewhere).</summary>
    private static long[] Summed(AddLayer sum, Dictionary<string, long[]> kept)
        => kept[sum.Left].SequenceEqual(kept[sum.Right]) ? kept[sum.Left]
            : throw new InvalidOperationException($"The residual sum '{sum.Name}' would add channels [{string.Join(", ", kept[sum.Left])}] of '{sum.Left}' " +
                $"to channels [{string.Join(", ", kept[sum.Right])}] of '{sum.Right}'; both inputs of a sum must keep the same channels.");

    /// <summary>The kept channels of each part, at the part's offset in the concatenation.</summary>
    private static long[] Concatenated(ConcatLayer concat, Dictionary<string, long[]> kept, IReadOnlyDictionary<string, long[]> shapes)
    {
        var result = new List<long>();
        long offset = 0;
        foreach (var part in concat.Inputs)
        {
            result.AddRange(kept[part].Select(c => c + offset));
            offset += shapes[part][0];
        }
        return [.. result];
    }

    /// <summary>The places of a Split, Slice or shuffle output whose picked channel its input keeps.</summary>
    private static long[] Selected(ChannelSelectLayer select, long[] keptInput)
    {
        var keptSet = keptInput.ToHashSet();
        return [.. Enumerable.Range(0, select.Channels.Length).Where(i => keptSet.Contains(select.Channels[i])).Select(i => (long)i)];
    }

    /// <summary>The kept places within a group, the second dimension of a grouped conv's weight, from its kept input
    /// channels: every place where its channels follow its input's (it loses whole groups), else the places kept in
    /// every group. The units of <see cref="ChannelUnits"/> keep the groups alike; a plan that does not is refused here,
    /// since no grouped conv computes it.</summary>
    private static long[] GroupInputs(ConvLayer conv, long[] keptInput)
    {
        long perGroup = conv.GroupInChannels;
        var groups = keptInput.GroupBy(c => c / perGroup).ToList();
        var places = conv.ChannelsFollowInput ? GroupSelection.All(perGroup) : [.. keptInput.Select(c => c % perGroup).Distinct().Order()];
        if (groups.Any(g => g.Count() != places.Length) || (!conv.ChannelsFollowInput && groups.Count != conv.Groups))
            throw new InvalidOperationException($"The grouped conv '{conv.Name}' would keep input channels [{string.Join(", ", keptInput)}], " +
                $"not the same {places.Length} places in each of {(conv.ChannelsFollowInput ? "the groups it keeps" : $"its {conv.Groups} groups")}; its groups must stay alike.");
        return places;
    }

    private static (long[] Outputs, long[]? Rank) Select(LayerGroups groups, long outChannels, PruningSettings settings)
    {
        var (rankNorms, channelNorms) = GroupNorms.Of(groups, settings.ChannelGroup);
        var outputs = channelNorms is null ? GroupSelection.All(outChannels)
            : GroupSelection.Keep(channelNorms, settings.Threshold, settings.Multiple, groups.Units);
        return (outputs, rankNorms is null ? null : GroupSelection.Keep(rankNorms, settings.Threshold, settings.Multiple));
    }
}
