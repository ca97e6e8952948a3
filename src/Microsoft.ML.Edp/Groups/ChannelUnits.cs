using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Groups;

/// <summary>How a layer's output channels may be removed: in units, each kept or removed whole, and so that every part
/// keeps a channel (Torch-Pruning's group-aligned index sets, for the grouped convs a <see cref="ChannelCoupling"/>
/// reaches).</summary>
/// <remarks>A grouped conv computes only when each of its groups reads as many channels. Where its channels follow its
/// input's (<see cref="Network.ConvLayer.ChannelsFollowInput"/>) a unit is the channels one of its groups reads, so a
/// group goes whole, with its outputs; elsewhere a unit is the channel at one place in every group, so every group
/// loses the same places. Every other channel is a unit of its own. A part is what one Split or Slice output holds of
/// the layer's channels: emptied, it would leave the layers reading it with nothing.</remarks>
internal sealed class ChannelUnits
{
    private readonly int[] _sizes;
    private readonly HashSet<int>[] _partUnits;

    /// <param name="unitOf">The unit of each channel, units numbered from 0.</param>
    /// <param name="parts">Channel sets each of which keeps at least one channel.</param>
    public ChannelUnits(int[] unitOf, IReadOnlyList<long[]> parts)
    {
        UnitOf = unitOf;
        Parts = parts;
        _sizes = new int[unitOf.Length == 0 ? 0 : unitOf.Max() + 1];
        foreach (int u in unitOf)
            _sizes[u]++;
        _partUnits = parts.Select(p => p.Select(c => unitOf[c]).ToHashSet()).ToArray();
    }

    public int[] UnitOf { get; }

    public IReadOnlyList<long[]> Parts { get; }

    /// <summary>How many units there are.</summary>
    public int Count => _sizes.Length;

    /// <summary>How many channels unit <paramref name="unit"/> holds.</summary>
    public int Size(int unit) => _sizes[unit];

    /// <summary>The lowest channel of each unit, where a value tied over the unit (<see cref="Tied"/>) is read.</summary>
    public int[] FirstChannels()
    {
        var first = Enumerable.Repeat(-1, Count).ToArray();
        for (int c = UnitOf.Length - 1; c >= 0; c--)
            first[UnitOf[c]] = c;
        return first;
    }

    /// <summary>Every channel a unit of its own, with no parts.</summary>
    public static ChannelUnits Singles(long channels) => new([.. Enumerable.Range(0, (int)channels)], []);

    /// <summary>Each channel's value summed over its unit: the squared norm or the importance of the whole unit, for
    /// every channel of it, so that the proximal step shrinks a unit as one group and a selection keeps it whole.</summary>
    public Tensor Tied(Tensor perChannel)
    {
        if (Count == UnitOf.Length)
            return perChannel;
        var index = tensor(UnitOf.Select(u => (long)u).ToArray(), device: perChannel.device);
        // scatter_add_, not index_add_: the latter takes a temporary Scalar (see TensorSquares for why that is avoided).
        return zeros(Count, dtype: perChannel.dtype, device: perChannel.device).scatter_add_(0, index, perChannel).index_select(0, index);
    }

    /// <summary>The channels of the <paramref name="kept"/> units, with units given back in the order of
    /// <paramref name="bestFirst"/> until one is kept at least, every part keeps a channel, and the kept count is a
    /// multiple of <paramref name="multiple"/> (or every unit in <paramref name="bestFirst"/> is kept).</summary>
    public long[] Complete(IEnumerable<int> kept, IReadOnlyList<int> bestFirst, int multiple)
    {
        var keep = kept.ToHashSet();
        if (keep.Count == 0 && bestFirst.Count > 0)
            keep.Add(bestFirst[0]);
        foreach (var part in _partUnits)
            if (!part.Overlaps(keep))
                keep.Add(bestFirst.First(part.Contains));
        long size = keep.Sum(u => _sizes[u]);
        foreach (int u in bestFirst)
        {
            if (size % multiple == 0)
                break;
            if (keep.Add(u))
                size += _sizes[u];
        }
        return [.. Enumerable.Range(0, UnitOf.Length).Where(c => keep.Contains(UnitOf[c])).Select(c => (long)c)];
    }

    /// <summary>Builds the units of one layer's channels as a <see cref="ChannelCoupling"/> walk finds what ties them.</summary>
    public sealed class Builder(int channels)
    {
        private readonly int[] _parent = [.. Enumerable.Range(0, channels)];
        private readonly List<long[]> _parts = [];

        /// <summary>Ties the layer's channels that a grouped conv reads in one unit (see <see cref="ChannelUnits"/>);
        /// <paramref name="positions"/> holds where each reaches the conv's input, -1 where it does not. False when a
        /// unit would hold channels of other layers too: only this layer's channels can be removed with it.</summary>
        public bool Tie(Network.ConvLayer conv, long[] positions)
        {
            long perGroup = conv.GroupInChannels;
            bool wholeGroups = conv.ChannelsFollowInput;
            var units = Enumerable.Range(0, channels).Where(c => positions[c] >= 0)
                .GroupBy(c => wholeGroups ? positions[c] / perGroup : positions[c] % perGroup).ToList();
            // Distinct channels reach distinct positions, so a unit is all this layer's when it reaches all its positions.
            if (units.Any(u => u.Count() != (wholeGroups ? perGroup : conv.Groups)))
                return false;
            foreach (var unit in units)
                foreach (int c in unit.Skip(1))
                    _parent[Root(c)] = Root(unit.First());
            return true;
        }

        /// <summary>Requires a kept channel among those that <paramref name="positions"/> places (at 0 or above), unless
        /// they are all the layer's channels: a layer always keeps one.</summary>
        public void Part(long[] positions)
        {
            var part = Enumerable.Range(0, channels).Where(c => positions[c] >= 0).Select(c => (long)c).ToArray();
            if (part.Length < channels)
                _parts.Add(part);
        }

        public ChannelUnits Build()
        {
            var number = new Dictionary<int, int>();
            var unitOf = Enumerable.Range(0, channels).Select(c => number.TryGetValue(Root(c), out int u) ? u : number[Root(c)] = number.Count).ToArray();
            return new ChannelUnits(unitOf, _parts);
        }

        private int Root(int c)
        {
            while (_parent[c] != c)
                c = _parent[c] = _parent[_parent[c]];
            return c;
        }
    }
}
