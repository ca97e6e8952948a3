using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>Pruning &amp; Merging: applies the layer plans to the trained network and emits the inference graph, with
/// zero groups removed, cheap-enough pairs merged and BN folded into the layer before it. A plain network passes
/// through with BN folded.</summary>
internal static class PruneAndMerge
{
    public static InferenceGraph Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var graph = net.Graph;
        var planOf = plans.ToDictionary(p => p.Name);
        var folded = ChannelCoupling.Analyse(graph).Where(c => c.Norm is not null).ToDictionary(c => c.Layer.Name, c => c.Norm!);
        var foldedNorms = folded.Values.Select(n => n.Name).ToHashSet();
        // Values keep their graph names in the export, except that a folded BN's output comes straight from its layer
        // and the network output is the logits.
        string Name(string value) => value == NetworkGraph.InputName ? OnnxNames.Input : value == graph.Output ? OnnxNames.Logits : value;
        var nodes = new List<GraphNode>();
        foreach (var layer in graph.Layers)
        {
            string input = Name(layer.Input);
            switch (layer)
            {
                case ConvLayer or LinearLayer:
                    var norm = folded.GetValueOrDefault(layer.Name);
                    string output = Name(norm?.Name ?? layer.Name);
                    nodes.AddRange(Emit(net.Weighted[layer.Name], planOf[layer.Name], norm is null ? null : net.Norms[norm.Name], input, output));
                    break;
                case BatchNormLayer when foldedNorms.Contains(layer.Name):
                    break;
                case BatchNormLayer:
                    throw new NotSupportedException($"Pruning & Merging cannot export layer '{layer.Name}': a BatchNorm must directly follow the conv or linear layer it folds into.");
                default:
                    nodes.Add(WeightlessNodes.Of(layer, Name, Name(layer.Name))!);
                    break;
            }
        }
        return new InferenceGraph(OnnxNames.Input, graph.InChannels, graph.Height, graph.Width, OnnxNames.Logits, graph.Classes, nodes);
    }

    /// <summary>One conv or linear layer as one node (plain or merged) or as the basis and coefficient pair, with its
    /// kept channels and its BN folded into the last node.</summary>
    private static IEnumerable<GraphNode> Emit(WeightedLayer layer, LayerPlan plan, TorchSharp.Modules.BatchNorm? bn, string input, string output)
    {
        var keep = plan.KeptOutputs;
        Tensor? bias = layer.bias is null ? null : LayerSurgery.KeepOutputs(Cpu(layer.bias), keep);
        var (first, coefficients) = Weights(layer.weight, plan);
        var last = coefficients ?? first;
        if (bn is not null)
            (last, bias) = LayerSurgery.FoldBatchNorm(last, bias, Kept(bn.weight!), Kept(bn.bias!), Kept(bn.running_mean!), Kept(bn.running_var!), bn.eps);
        Tensor Kept(Tensor t) => LayerSurgery.KeepOutputs(Cpu(t), keep);

        string name = plan.Name;
        if (coefficients is null)
        {
            yield return Node(name, input, output, last, bias, layer.Node);
            yield break;
        }
        string basisOut = $"{name}_basis_out";
        yield return Node($"{name}_basis", input, basisOut, first, null, layer.Node);
        var a = layer.IsConv ? last.view(last.shape[0], last.shape[1], 1, 1) : last;
        yield return layer.IsConv
            ? new ConvNode($"{name}_coefficients", basisOut, output, Dense(a), bias is null ? null : Dense(bias), 1, 0)
            : new GemmNode($"{name}_coefficients", basisOut, output, Dense(a), bias is null ? null : Dense(bias));
    }

    private static GraphNode Node(string name, string input, string output, Tensor weight, Tensor? bias, LayerNode spec) => spec is ConvLayer c
        ? new ConvNode(name, input, output, Dense(weight), bias is null ? null : Dense(bias), c.Stride, c.Padding, c.IsDepthwise ? (int)weight.shape[0] : c.Groups)
        : new GemmNode(name, input, output, Dense(weight), bias is null ? null : Dense(bias));

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
