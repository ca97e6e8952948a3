using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.Edp.Export;

/// <summary>Runs an <see cref="InferenceGraph"/> with TorchSharp, as the reference the ONNX model is checked against.</summary>
/// <remarks>It computes in float64. libtorch 2.10's float32 CPU convolution goes through oneDNN, whose AVX-512 kernels
/// returned wrong results here for some pruned shapes (e.g. 23 -> 50 channels at 7x7, batch 32: errors of 27 on
/// outputs of 63, against 1e-5 in float64 and in ONNX Runtime). Training shapes were not affected, and float64 does not
/// use oneDNN, so the reference stays trustworthy.</remarks>
internal static class InferenceGraphRunner
{
    /// <summary>Logits [N, K] for images [N, C, H, W].</summary>
    public static Tensor Logits(InferenceGraph graph, Tensor images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor> { [graph.Input] = images.to(ScalarType.Float64) };
        foreach (var node in graph.Nodes)
        {
            var x = values[node.Inputs[0]];
            values[node.Output] = node switch
            {
                ConvNode c => F.conv2d(x, Tensor(c.Weight), c.Bias is null ? null : Tensor(c.Bias), strides: [c.Stride, c.Stride], padding: [c.Padding, c.Padding], groups: c.Groups),
                GemmNode g => F.linear(x, Tensor(g.Weight), g.Bias is null ? null : Tensor(g.Bias)),
                ReluNode { Max: float max } => x.clamp(0, max),
                ReluNode => F.relu(x),
                PoolNode { IsMax: true } p => F.max_pool2d(x, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode),
                PoolNode p => F.avg_pool2d(x, p.Kernel, p.Stride, p.Padding, ceil_mode: p.CeilMode, count_include_pad: false),
                PadNode p => F.pad(x, [p.Left, p.Right, p.Top, p.Bottom], value: p.Value),
                ActivationNode a => Activations.Apply(x, a.Kind, a.Alpha, a.Beta),
                ChannelAffineNode a => x * PerChannel(a.Scale) + PerChannel(a.Shift),
                FlattenNode => x.flatten(1),
                GlobalAveragePoolNode g => x.mean([2, 3], keepdim: g.KeepMap),
                ConcatNode c => cat(c.Inputs.Select(i => values[i]).ToArray(), 1),
                ChannelGateNode => x * values[node.Inputs[1]],
                ChannelSelectNode s => x.index_select(1, tensor(s.Channels)),
                AddNode => x + values[node.Inputs[1]],
                _ => throw new NotSupportedException($"No TorchSharp mapping for graph node '{node.Name}' ({node.GetType().Name})."),
            };
        }
        return values[graph.Logits].to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static Tensor PerChannel(float[] values) => tensor(values, [values.Length, 1, 1]).to(ScalarType.Float64);

    private static Tensor Tensor(DenseTensor t) => tensor(t.Values, t.Shape).to(ScalarType.Float64);
}
