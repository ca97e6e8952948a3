using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Export;

/// <summary>Runs an exported graph (a <see cref="NetworkGraph"/> whose conv and linear layers carry their final
/// weights) with TorchSharp, as the reference the ONNX model is checked against.</summary>
/// <remarks>It computes in float64. libtorch 2.10's float32 CPU convolution goes through oneDNN, whose AVX-512 kernels
/// returned wrong results here for some pruned shapes (e.g. 23 -> 50 channels at 7x7, batch 32: errors of 27 on
/// outputs of 63, against 1e-5 in float64 and in ONNX Runtime). Training shapes were not affected, and float64 does not
/// use oneDNN, so the reference stays trustworthy.</remarks>
internal static class ReferenceRunner
{
    /// <summary>Logits [N, K] for images [N, C, H, W].</summary>
    public static Tensor Logits(NetworkGraph graph, Tensor images)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor> { [NetworkGraph.InputName] = images.to(ScalarType.Float64) };
        foreach (var layer in graph.Layers)
        {
            var x = values[layer.Input];
            if (layer is WeightLayer weighted)
            {
                var (weight, bias) = weighted.Carried();
                values[layer.Name] = LayerOps.Weighted(weighted, x, Tensor(weight), bias is null ? null : Tensor(bias));
            }
            else
                values[layer.Name] = LayerOps.Forward(layer, x, values);
        }
        return values[graph.Output].to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static Tensor Tensor(DenseTensor t) => tensor(t.Values, t.Shape).to(ScalarType.Float64);
}
