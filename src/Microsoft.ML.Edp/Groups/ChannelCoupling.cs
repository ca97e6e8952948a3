using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>What removing one output channel of a conv or linear layer touches, found by following its output through
/// the graph (the dependency-graph idea of Torch-Pruning, for the ops a <see cref="NetworkGraph"/> has).</summary>
/// <param name="Layer">The conv or linear layer.</param>
/// <param name="Norm">The BatchNorm that reads only this layer's output; its gamma and beta join the channel group
/// and PM folds it into the layer.</param>
/// <param name="Prunable">False when a channel reaches a flatten, a BN further down or the graph output, a residual sum
/// other than its stream's, or a grouped conv whose groups it shares with other layers' channels: removing it there
/// would change what other layers see, so only the rank of such a layer is reduced.</param>
/// <param name="Consumers">The conv and linear layers whose input channels follow this layer's output channels (for a
/// stream member, the readers of every value of its stream).</param>
/// <param name="Followers">The depthwise and other grouped convs whose channels follow their input's
/// (<see cref="ConvLayer.ChannelsFollowInput"/>) on this layer's channels, with the BN that reads only them, and where
/// each of this layer's channels lands in the conv's input (-1 where it does not): past a Concat at the offset of this
/// layer's part, past a Split, Slice or channel shuffle where that puts it. A removed channel takes its filter and BN
/// channel with it, so that they too emit exactly zero there.</param>
/// <param name="Units">The units this layer's channels are removed in, and the parts that must keep one.</param>
/// <param name="Follows">For a conv whose channels follow its input's, that input; for the excitation conv of a
/// squeeze-excitation block (its output gates a map through channel-wise ops), the gated map: the conv keeps the output
/// channels that map keeps, so that a channel pruned from the block is dropped from its gate as well.</param>
/// <param name="Stream">The residual stream the layer produces, when its channels may be removed with the stream's: the
/// walk then starts from every member's output and goes on past the stream's sums, so every member has the stream's
/// consumers, followers and units.</param>
internal sealed record ChannelCoupling(WeightLayer Layer, BatchNormLayer? Norm, bool Prunable, IReadOnlyList<WeightLayer> Consumers,
    IReadOnlyList<(ConvLayer Conv, BatchNormLayer? Norm, long[] Positions)> Followers, ChannelUnits Units, string? Follows = null,
    ResidualStream? Stream = null)
{
    // A graph never changes once built, and the planner asks again every few training steps when a budget is set
    // (and 40 times while cutting to it); the walk scans every layer's readers, so it is done once per graph.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NetworkGraph, IReadOnlyList<ChannelCoupling>> Cache = new();

    /// <summary>The coupling of every conv and linear layer, in graph order.</summary>
    public static IReadOnlyList<ChannelCoupling> Analyse(NetworkGraph graph)
        => Cache.GetValue(graph, g =>
        {
            var streams = new Dictionary<string, ChannelCoupling>();
            foreach (var stream in g.PruneResidualStreams ? ResidualStream.Of(g) : [])
                foreach (var coupling in OfStream(g, stream))
                    streams[coupling.Layer.Name] = coupling;
            return g.Layers.OfType<WeightLayer>().Select(l => streams.GetValueOrDefault(l.Name) ?? Of(g, l)).ToList();
        });

    private static ChannelCoupling Of(NetworkGraph graph, WeightLayer layer)
    {
        var norm = OwnNorm(graph, layer);
        var walk = Walk(graph, [norm?.Name ?? layer.Name], layer.Outputs, null);
        return new ChannelCoupling(layer, norm, walk.Prunable, walk.Consumers, walk.Followers, walk.Units, FollowedValue(graph, layer, norm));
    }

    /// <summary>The couplings of a stream's members, all with the stream's walk; none when a member's channels cannot
    /// go with the stream's (they follow another layer's) or the walk finds a place where they cannot be removed: each
    /// member then has its own walk, which stops at the sum.</summary>
    private static IEnumerable<ChannelCoupling> OfStream(NetworkGraph graph, ResidualStream stream)
    {
        var members = stream.Members.Select(m => (m.Layer, m.Norm, Follows: FollowedValue(graph, m.Layer, m.Norm))).ToList();
        if (members.Any(m => m.Follows is not null))
            return [];
        var walk = Walk(graph, [.. members.Select(m => m.Norm?.Name ?? m.Layer.Name)], members[0].Layer.Outputs, stream.Sums);
        return walk.Prunable
            ? members.Select(m => new ChannelCoupling(m.Layer, m.Norm, true, walk.Consumers, walk.Followers, walk.Units, null, stream))
            : [];
    }

    private static BatchNormLayer? OwnNorm(NetworkGraph graph, WeightLayer layer)
        => graph.Consumers(layer.Name).ToList() is [BatchNormLayer bn] ? bn : null;

    private static string? FollowedValue(NetworkGraph graph, WeightLayer layer, BatchNormLayer? norm)
        => layer is ConvLayer { ChannelsFollowInput: true } ? layer.Input : GatedMap(graph, norm?.Name ?? layer.Name);

    private sealed record WalkResult(bool Prunable, IReadOnlyList<WeightLayer> Consumers,
        IReadOnlyList<(ConvLayer Conv, BatchNormLayer? Norm, long[] Positions)> Followers, ChannelUnits Units);

    /// <summary>Follows <paramref name="channels"/> channels from <paramref name="starts"/>, each holding them in order,
    /// to every layer they reach; past the residual sums in <paramref name="sums"/>, which carry them on in place.</summary>
    private static WalkResult Walk(NetworkGraph graph, string[] starts, int channels, IReadOnlySet<string>? sums)
    {
        var consumers = new List<WeightLayer>();
        var followers = new List<(ConvLayer, BatchNormLayer?, long[])>();
        var units = new ChannelUnits.Builder(channels);
        bool prunable = true;
        var shapes = graph.Shapes();
        long[] identity = [.. Enumerable.Range(0, channels).Select(c => (long)c)];
        // A sum is reached once from each of its inputs; the walk goes on past it once.
        var passedSums = new HashSet<string>();
        // Each value the walk reaches, with where each of the walked channels is in it (-1 where it is not).
        var pending = new Stack<(string Value, long[] Positions)>(starts.Select(s => (s, identity)));
        while (pending.Count > 0)
        {
            var (value, positions) = pending.Pop();
            if (value == graph.Output)
                prunable = false;
            foreach (var next in graph.Consumers(value))
            {
                switch (next)
                {
                    // Zero in, zero out, channel by channel, at the channel's offset in the concatenation; and a zero
                    // channel of a gated map stays zero whatever its gate.
                    case ConcatLayer concat:
                        for (int part = 0; part < concat.Parts.Length; part++)
                            if (concat.Parts[part] == value)
                                pending.Push((next.Name, Shifted(positions, concat.Parts[..part].Sum(p => shapes[p][0]))));
                        break;
                    case ChannelGateLayer gate when gate.Input == value:
                        pending.Push((next.Name, positions));
                        break;
                    // Split, Slice and the channel shuffle pick channels by index (a Gather on export), so any kept set
                    // passes exactly: each channel goes on at its new place, and the walk follows each part that holds one.
                    // A shuffle's groups need not survive: its pruned form is the same permutation of what is left.
                    case ChannelSelectLayer select:
                        if (Selected(select, positions) is not { } selected)
                            prunable = false;
                        else if (selected.Any(p => p >= 0))
                        {
                            units.Part(selected);
                            pending.Push((next.Name, selected));
                        }
                        break;
                    // A grouped conv's groups must keep as many channels each: its readers' channels go in units. A conv
                    // whose channels follow its input's (a depthwise conv reads one channel a group) loses whole groups,
                    // outputs with inputs: it follows, and the walk goes on past it. Another loses the same places in
                    // every group, its outputs kept.
                    case ConvLayer { Groups: > 1 } grouped:
                        if (!units.Tie(grouped, positions))
                            prunable = false;
                        else if (grouped.ChannelsFollowInput)
                        {
                            var groupedNorm = graph.Consumers(grouped.Name).ToList() is [BatchNormLayer gbn] ? gbn : null;
                            followers.Add((grouped, groupedNorm, positions));
                            pending.Push((groupedNorm?.Name ?? grouped.Name, positions));
                        }
                        else
                            consumers.Add(grouped);
                        break;
                    case WeightLayer weighted:
                        consumers.Add(weighted);
                        break;
                    // The stream's own sums carry its channels in place: the same channel of every input.
                    case AddLayer sum when sums?.Contains(sum.Name) == true && positions.SequenceEqual(identity):
                        if (passedSums.Add(sum.Name))
                            pending.Push((next.Name, positions));
                        break;
                    // Zero in, zero out, channel by channel: a pruned channel stays exactly zero through these.
                    case { KeepsZeroChannels: true }:
                        pending.Push((next.Name, positions));
                        break;
                    default:
                        prunable = false;
                        break;
                }
            }
        }
        return new WalkResult(prunable, consumers.Distinct().ToList(), followers, units.Build());
    }

    private static long[] Shifted(long[] positions, long offset) => [.. positions.Select(p => p < 0 ? p : p + offset)];

    /// <summary>Where each channel lands in <paramref name="select"/>'s output (-1 where it is not picked); null when one
    /// is picked twice, which no import makes and one position per channel cannot say.</summary>
    private static long[]? Selected(ChannelSelectLayer select, long[] positions)
    {
        var picked = select.Channels.Select((source, at) => (source, at: (long)at)).ToLookup(p => p.source, p => p.at);
        if (positions.Any(p => p >= 0 && picked[p].Count() > 1))
            return null;
        return [.. positions.Select(p => p < 0 ? -1 : picked[p].DefaultIfEmpty(-1).First())];
    }

    /// <summary>The map whose channel gate <paramref name="value"/> computes through single-reader channel-wise ops
    /// (an activation such as Sigmoid), or null.</summary>
    private static string? GatedMap(NetworkGraph graph, string value)
    {
        while (graph.Consumers(value).ToList() is [var next])
        {
            if (next is ChannelGateLayer gate && gate.Gate == value)
                return gate.Input;
            if (next is not (ActivationLayer or ReluLayer))
                return null;
            value = next.Name;
        }
        return null;
    }
}
