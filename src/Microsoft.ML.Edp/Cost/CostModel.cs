using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost;

/// <summary>What a network costs by one measure: MACs, parameters or the latency a table predicts. The budget
/// controller, the least-important selection (importance per unit of cost) and Pruning &amp; Merging's merge rule all
/// ask one of these, so that a budget on any measure shapes the network by that measure.</summary>
internal abstract class CostModel
{
    /// <summary>Multiply-accumulates per image.</summary>
    public static readonly CostModel Macs = new Counted(c => c.Macs, "MACs", perPixel: true);

    /// <summary>Stored parameters (weights, BN gamma and beta, biases).</summary>
    public static readonly CostModel Params = new Counted(c => c.Params, "params", perPixel: false);

    /// <summary>The measure's name in logs.</summary>
    public abstract string Name { get; }

    /// <summary>The cost of <paramref name="layer"/>'s layer from <paramref name="inputs"/> to
    /// <paramref name="outputs"/> channels, as one layer or, with <paramref name="rank"/>, as the basis and coefficient
    /// pair; the rest of the layer's shape (kernel, map size) is the plan's.</summary>
    public abstract double Layer(LayerPlan layer, long inputs, long outputs, long? rank);

    /// <summary>What one run costs beside its layers: 0 for counts, the session's fixed time for latency.</summary>
    public virtual double Fixed => 0;

    /// <summary>The merge rule: keep the pair at <paramref name="rank"/> only where it costs less than the one layer it
    /// would merge into, at the plan's kept widths.</summary>
    public virtual bool PairIsCheaper(LayerPlan layer, long rank)
        => Layer(layer, layer.KeptInputs.Length, layer.KeptOutputs.Length, rank) < Layer(layer, layer.KeptInputs.Length, layer.KeptOutputs.Length, null);

    /// <summary>What one rank group and one channel group of every layer of <paramref name="graph"/> carry, for ranking
    /// groups by importance per unit of cost.</summary>
    public abstract IReadOnlyDictionary<string, GroupCost> Groups(NetworkGraph graph);

    /// <summary>The plain network's cost: every layer at its original shape.</summary>
    public double Before(IReadOnlyList<LayerPlan> plans) => Fixed + plans.Sum(p => Layer(p, p.OriginalShape[1], p.OriginalShape[0], null));

    /// <summary>The cost after Pruning &amp; Merging carries out <paramref name="plans"/>.</summary>
    public double After(IReadOnlyList<LayerPlan> plans) => Fixed + plans.Sum(p => Layer(p, p.KeptInputs.Length, p.KeptOutputs.Length, p.PairRank));

    /// <summary>MACs or parameters, counted from the shapes (<see cref="LayerCost"/>).</summary>
    private sealed class Counted(Func<LayerCost, long> measure, string name, bool perPixel) : CostModel
    {
        public override string Name => name;

        public override double Layer(LayerPlan layer, long inputs, long outputs, long? rank) => measure(layer.Cost(outputs, inputs, rank));

        /// <summary>The per-pixel and per-channel terms are the same on both sides, so MACs and parameters share the rule
        /// on weights, r (c k^2 + n) &lt; n c k^2.</summary>
        public override bool PairIsCheaper(LayerPlan layer, long rank)
            => LayerCost.PairIsCheaper(layer.KeptOutputs.Length, layer.KeptInputs.Length, layer.KernelArea, rank);

        public override IReadOnlyDictionary<string, GroupCost> Groups(NetworkGraph graph) => GroupCosts.Of(graph, perPixel);
    }
}
