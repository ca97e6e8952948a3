using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>Pruning &amp; Merging: applies the layer plans to the trained network and emits the exported graph, the
/// same network description with zero groups removed, cheap-enough pairs merged and BN folded into the layer before
/// it, every conv and linear layer carrying its final weights. A plain network passes through with BN folded.</summary>
internal static class PruneAndMerge
{
    public static NetworkGraph Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var graph = net.Graph;
        var planOf = plans.ToDictionary(p => p.Name);
        var norms = ChannelCoupling.Analyse(graph).Where(c => c.Norm is not null).ToDictionary(c => c.Layer.Name, c => c.Norm!);
        var folded = norms.Values.Select(n => n.Name).ToHashSet();
        var kept = PruningPlanner.Kept(graph, plans);
        // Layers keep their names, except a kept pair, whose readers read its coefficients, and a folded BN, whose
        // readers read the layer it folds into.
        var renamed = new Dictionary<string, string>();
        string Source(string value) => renamed.GetValueOrDefault(value, value);
        var layers = new List<LayerNode>();
        foreach (var layer in graph.Layers)
        {
            switch (layer)
            {
                case WeightLayer:
                    var norm = norms.GetValueOrDefault(layer.Name);
                    var emitted = Emit(net.Weighted[layer.Name], planOf[layer.Name], norm is null ? null : net.Norms[norm.Name], Source(layer.Input)).ToList();
                    layers.AddRange(emitted);
                    renamed[layer.Name] = emitted[^1].Name;
                    if (norm is not null)
                        renamed[norm.Name] = emitted[^1].Name;
                    break;
                case BatchNormLayer when folded.Contains(layer.Name):
                    break;
                case BatchNormLayer:
                    throw new NotSupportedException($"Pruning & Merging cannot export layer '{layer.Name}': a BatchNorm must directly follow the conv or linear layer it folds into.");
                case ChannelSelectLayer select:
                    layers.Add((ChannelSelectLayer)select.ReadingFrom(Source) with { Channels = LayerSurgery.KeepPicked(select.Channels, kept[select.Input], kept[select.Name]) });
                    break;
                default:
                    layers.Add(layer.ReadingFrom(Source));
                    break;
            }
        }
        return graph with { Layers = layers, Output = Source(graph.Output) };
    }

    /// <summary>One conv or linear layer as one layer (plain or merged) or as the basis and coefficient pair, with its
    /// kept channels and its BN folded into the last one.</summary>
    private static IEnumerable<WeightLayer> Emit(WeightedLayer layer, LayerPlan plan, TorchSharp.Modules.BatchNorm? bn, string input)
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
            yield return Layer(name, input, last, bias, layer.Node);
            yield break;
        }
        var basis = Layer($"{name}_basis", input, first, null, layer.Node);
        yield return basis;
        var a = layer.IsConv ? last.view(last.shape[0], last.shape[1], 1, 1) : last;
        yield return layer.IsConv
            ? ConvLayer.Of($"{name}_coefficients", basis.Name, Dense(a), bias is null ? null : Dense(bias), 1, 0)
            : LinearLayer.Of($"{name}_coefficients", basis.Name, Dense(a), bias is null ? null : Dense(bias));
    }

    private static WeightLayer Layer(string name, string input, Tensor weight, Tensor? bias, LayerNode spec) => spec is ConvLayer c
        ? ConvLayer.Of(name, input, Dense(weight), bias is null ? null : Dense(bias), c.Stride, c.Padding, Groups(c, weight))
        : LinearLayer.Of(name, input, Dense(weight), bias is null ? null : Dense(bias));

    /// <summary>The groups of a conv with the kept <paramref name="weight"/>: as many as before, but where its channels
    /// follow its input's, one for each group whose outputs it keeps.</summary>
    private static int Groups(ConvLayer conv, Tensor weight) => conv.Groups == 1 ? 1 : (int)(weight.shape[0] / conv.OutputsPerInput);

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
