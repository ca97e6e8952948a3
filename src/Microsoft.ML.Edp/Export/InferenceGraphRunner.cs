using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.Edp.Export;

/// <summary>Runs an <see cref="InferenceGraph"/> with TorchSharp, as the reference the ONNX model is checked against.</summary>
internal static class InferenceGraphRunner
{
    /// <summary>Logits [N, K] for images [N, C, H, W].</summary>
    public static Tensor Logits(InferenceGraph graph, Tensor images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor> { [graph.Input] = images };
        foreach (var node in graph.Nodes)
        {
            var x = values[node.Inputs[0]];
            values[node.Output] = node switch
            {
                ConvNode c => F.conv2d(x, Tensor(c.Weight), c.Bias is null ? null : Tensor(c.Bias), strides: [c.Stride, c.Stride], padding: [c.Padding, c.Padding]),
                GemmNode g => F.linear(x, Tensor(g.Weight), g.Bias is null ? null : Tensor(g.Bias)),
                ReluNode => F.relu(x),
                MaxPoolNode p => F.max_pool2d(x, p.Kernel, p.Stride),
                GlobalAveragePoolNode => x.mean([2, 3]),
                AddNode => x + values[node.Inputs[1]],
                _ => throw new NotSupportedException($"No TorchSharp mapping for graph node '{node.Name}' ({node.GetType().Name})."),
            };
        }
        return values[graph.Logits].MoveToOuterDisposeScope();
    }

    private static Tensor Tensor(DenseTensor t) => tensor(t.Values, t.Shape);
}
