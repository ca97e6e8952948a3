using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>The conv and linear layers whose outputs (after their BN) reach the same residual sum, transitively through
/// chains of sums (an identity shortcut carries one sum's output on to the next): channel c of every one of them is the
/// same channel c of the sums, so they keep and remove channels together (Torch-Pruning's coupling of every producer of
/// an Add chain). The channel groups of a stream are held by its <see cref="Owner"/>.</summary>
/// <param name="Members">The producers with the BN that reads only each one, in graph order.</param>
/// <param name="Sums">The names of the stream's residual sums.</param>
internal sealed record ResidualStream(IReadOnlyList<(WeightLayer Layer, BatchNormLayer? Norm)> Members, IReadOnlySet<string> Sums)
{
    /// <summary>The member whose <see cref="LayerGroups"/> carry the stream's channel groups, every other member's rows
    /// joining them: the first compressed-aware block; null when all members are plain, which keeps the stream whole.</summary>
    public string? Owner => Members.FirstOrDefault(m => m.Layer.Compressed).Layer?.Name;

    /// <summary>The streams of <paramref name="graph"/> whose every sum adds the outputs of conv or linear layers (with
    /// their own BN), of other sums of the stream, or of those through layers that keep a zero channel zero (a ReLU
    /// between chained sums): then a channel zero in every member is zero in every sum. A sum fed otherwise (the graph
    /// input, a Concat, a grouped conv, a BN of its own) leaves its stream whole, as is every layer feeding it.</summary>
    public static IReadOnlyList<ResidualStream> Of(NetworkGraph graph)
    {
        var byName = graph.Layers.ToDictionary(l => l.Name);
        var sums = graph.Layers.OfType<AddLayer>().ToList();
        // Union-find over sums and producers: a sum joins the sums and producers that feed it.
        var parent = new Dictionary<string, string>();
        string Root(string n)
        {
            while (parent.GetValueOrDefault(n, n) is var p && p != n)
                n = parent[n] = parent.GetValueOrDefault(p, p);
            return n;
        }
        void Join(string a, string b) => parent[Root(a)] = Root(b);
        var unsupported = new HashSet<string>();
        foreach (var sum in sums)
        {
            foreach (var input in sum.Inputs)
            {
                if (Source(graph, byName, input) is { } source)
                    Join(source, sum.Name);
                else
                    unsupported.Add(sum.Name);
            }
        }
        var streams = new List<ResidualStream>();
        foreach (var component in sums.GroupBy(s => Root(s.Name)))
        {
            if (component.Any(s => unsupported.Contains(s.Name)))
                continue;
            var members = graph.Layers.OfType<WeightLayer>().Where(l => parent.ContainsKey(l.Name) && Root(l.Name) == component.Key)
                .Select(l => (l, graph.Consumers(l.Name).ToList() is [BatchNormLayer bn] ? bn : null)).ToList();
            streams.Add(new ResidualStream(members, component.Select(s => s.Name).ToHashSet()));
        }
        return streams;
    }

    /// <summary>The sum or the producer whose channels <paramref name="value"/> carries unchanged or zero-preserved;
    /// null when it is anything else.</summary>
    private static string? Source(NetworkGraph graph, Dictionary<string, LayerNode> byName, string value)
    {
        while (byName.GetValueOrDefault(value) is { } node)
        {
            switch (node)
            {
                case AddLayer:
                    return node.Name;
                // A grouped conv's channels follow or are tied to other layers' channels; it cannot join a stream.
                case ConvLayer { Groups: > 1 }:
                    return null;
                case WeightLayer:
                    return node.Name;
                case BatchNormLayer bn when byName.GetValueOrDefault(bn.Input) is WeightLayer w && graph.Consumers(w.Name).Count() == 1:
                    return w is ConvLayer { Groups: > 1 } ? null : w.Name;
                case ChannelGateLayer gate:
                    value = gate.Input;
                    break;
                case { KeepsZeroChannels: true, Inputs.Length: 1 }:
                    value = node.Input;
                    break;
                default:
                    return null;
            }
        }
        return null;
    }
}
