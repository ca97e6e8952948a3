using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Latency in milliseconds at one batch size, as a <see cref="LatencyTable"/> predicts it: the fixed cost of a
/// run and every layer at its kept widths and rank.</summary>
internal sealed class LatencyCost(LatencyTable table, int batch) : CostModel
{
    /// <summary>The least a group is taken to save, in milliseconds: a group that saves nothing by the table ranks last,
    /// where dividing by zero would rank it anywhere.</summary>
    private const double Negligible = 1e-9;

    public LatencyTable Table => table;

    public int Batch => batch;

    public override string Name => $"latency at batch {batch}";

    public override double Fixed => table.Overhead(batch);

    public override double Layer(LayerPlan layer, long inputs, long outputs, long? rank)
        => table.Layer(layer.Name, (int)inputs, (int)outputs, (int?)rank, batch);

    /// <summary>The merge rule by measured cost (<see cref="LatencyTable.PairIsFaster"/>), for pairs with fewer MACs than
    /// the merged layer: one with more computes more and moves a tensor more, so a table that times it faster has
    /// timed noise (seen on the 16-channel layers of VGG-S, whose pairs at full rank it timed faster).</summary>
    public override bool PairIsCheaper(LayerPlan layer, long rank)
        => Macs.PairIsCheaper(layer, rank) && table.PairIsFaster(layer.Name, layer.KeptInputs.Length, layer.KeptOutputs.Length, (int)rank, batch);

    /// <summary>The milliseconds one group saves on average as its layer shrinks from its plain shape to one group.
    /// A time falls in steps of the CPU's block, not channel by channel, so the average over the whole range ranks
    /// layers by what shrinking them can win. A channel saves its share of its layer's output axis (of every member's,
    /// for a channel of a residual stream), of every reader's input axis and of every grouped conv that follows it (a
    /// depthwise conv, or one that loses whole groups, by its time at one group less, shared by the group's channels); a
    /// basis filter saves only where the pair beats the merged layer, since PM runs the faster of the two.</summary>
    public override IReadOnlyDictionary<string, GroupCost> Groups(NetworkGraph graph)
    {
        var sites = LayerSite.Of(graph).ToDictionary(s => s.Name);
        double Time(string name, int c, int n, int? r) => table.Layer(name, c, n, r, batch);
        double PerGroup(double full, double least, int count) => Math.Max(Negligible, count > 1 ? (full - least) / (count - 1) : 0);
        var result = new Dictionary<string, GroupCost>();
        foreach (var coupling in ChannelCoupling.Analyse(graph))
        {
            var s = sites[coupling.Layer.Name];
            double merged = Time(s.Name, s.InChannels, s.OutChannels, null);
            double rank = s.IsBlock
                ? PerGroup(Math.Min(merged, Time(s.Name, s.InChannels, s.OutChannels, s.MaxRank)), Math.Min(merged, Time(s.Name, s.InChannels, s.OutChannels, 1)), s.MaxRank)
                : Negligible;
            double Own(LayerSite m) => PerGroup(Time(m.Name, m.InChannels, m.OutChannels, null), Time(m.Name, m.InChannels, 1, null), m.OutChannels);
            double own = coupling.Stream?.Members.Sum(m => Own(sites[m.Layer.Name])) ?? Own(s);
            double readers = coupling.Consumers.Select(c => sites[c.Name])
                .Sum(r => PerGroup(Time(r.Name, r.InChannels, r.OutChannels, null), Time(r.Name, 1, r.OutChannels, null), r.InChannels));
            // A grouped conv that follows the layer's channels loses its own with them, a whole group at a time (the
            // table reads it along its one width, down to one group): each channel saves its share of a group.
            double followers = coupling.Followers.Select(f => sites[f.Conv.Name])
                .Sum(d => PerGroup(Time(d.Name, d.InChannels, d.OutChannels, null), Time(d.Name, d.ChannelsPerGroup, d.ChannelsPerGroup, null), d.Groups) / d.ChannelsPerGroup);
            result[s.Name] = new GroupCost(rank, own + readers + followers);
        }
        return result;
    }
}
