using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>Pruning &amp; Merging: applies the layer plans to the trained network and emits the inference graph, with
/// zero groups removed, cheap-enough pairs merged and BN folded. A plain network passes through with BN folded.</summary>
internal static class PruneAndMerge
{
    public static InferenceGraph Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var nodes = new List<GraphNode>();
        string x = OnnxNames.Input;
        foreach (var (block, plan) in net.Blocks.Zip(plans))
        {
            var s = block.Spec;
            var bn = block.bn;
            var (gamma, beta, mean, variance) = (Cpu(bn.weight!), Cpu(bn.bias!), Cpu(bn.running_mean!), Cpu(bn.running_var!));
            var keep = plan.KeptOutputs;
            (gamma, beta, mean, variance) = (LayerSurgery.KeepOutputs(gamma, keep), LayerSurgery.KeepOutputs(beta, keep),
                LayerSurgery.KeepOutputs(mean, keep), LayerSurgery.KeepOutputs(variance, keep));

            var (first, second) = Weights(block.conv, plan);
            string y = $"{s.Name}_out";
            if (second is null)
            {
                var (w, b) = LayerSurgery.FoldBatchNorm(first, gamma, beta, mean, variance, bn.eps);
                nodes.Add(new ConvNode(s.Name, x, y, Dense(w), Dense(b), s.Stride, s.Padding));
            }
            else
            {
                var (a, b) = LayerSurgery.FoldBatchNorm(second, gamma, beta, mean, variance, bn.eps);
                string basisOut = $"{s.Name}_basis_out";
                nodes.Add(new ConvNode($"{s.Name}_basis", x, basisOut, Dense(first), null, s.Stride, s.Padding));
                nodes.Add(new ConvNode($"{s.Name}_coefficients", basisOut, y, Dense(a.view(a.shape[0], a.shape[1], 1, 1)), Dense(b), 1, 0));
            }
            nodes.Add(new ReluNode($"{s.Name}_relu", y, x = $"{s.Name}_relu_out"));
            if (s.PoolAfter)
                nodes.Add(new MaxPoolNode($"{s.Name}_pool", x, x = $"{s.Name}_pool_out", 2, 2));
        }
        nodes.Add(new GlobalAveragePoolNode("global_pool", x, x = "pooled"));

        var headPlan = plans[^1];
        var bias = LayerSurgery.KeepOutputs(Cpu(net.head.bias), headPlan.KeptOutputs);
        var (hw, ha) = Weights(net.head.linear, headPlan);
        if (ha is null)
            nodes.Add(new GemmNode(NetworkSpec.ClassifierName, x, OnnxNames.Logits, Dense(hw), Dense(bias)));
        else
        {
            nodes.Add(new GemmNode($"{NetworkSpec.ClassifierName}_basis", x, "classifier_basis_out", Dense(hw), null));
            nodes.Add(new GemmNode($"{NetworkSpec.ClassifierName}_coefficients", "classifier_basis_out", OnnxNames.Logits, Dense(ha), Dense(bias)));
        }
        return new InferenceGraph(OnnxNames.Input, net.Spec.InChannels, net.Spec.Height, net.Spec.Width, OnnxNames.Logits, net.Spec.Classes, nodes);
    }

    /// <summary>The kept weights: one merged or plain weight, or the pruned basis and coefficients of a pair.</summary>
    private static (Tensor First, Tensor? Coefficients) Weights(LayerWeight weight, LayerPlan plan)
    {
        if (weight is not CompressedWeight cab)
            return (LayerSurgery.KeepInputs(LayerSurgery.KeepOutputs(Cpu(weight.Compose()), plan.KeptOutputs), plan.KeptInputs), null);
        var rank = plan.KeptRank!;
        var basis = LayerSurgery.KeepInputs(LayerSurgery.KeepOutputs(Cpu(cab.basis), rank), plan.KeptInputs);
        var a = LayerSurgery.KeepInputs(LayerSurgery.KeepOutputs(Cpu(cab.coefficients), plan.KeptOutputs), rank);
        return plan.Merged ? (LayerSurgery.Merge(a, basis), null) : (basis, a);
    }

    private static Tensor Cpu(Tensor t) => t.detach().cpu();

    private static DenseTensor Dense(Tensor t)
    {
        var c = t.contiguous();
        return new DenseTensor(c.shape.ToArray(), c.data<float>().ToArray());
    }
}
