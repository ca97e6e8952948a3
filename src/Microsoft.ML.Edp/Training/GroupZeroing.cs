using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Sets every group a plan drops to exactly zero in the live network, so that training goes on without it and
/// Pruning &amp; Merging later removes it without changing the outputs.</summary>
internal static class GroupZeroing
{
    public static void Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        var byName = plans.ToDictionary(p => p.Name);
        foreach (var layer in ProximalGroupLasso.Layers(net))
        {
            using var scope = NewDisposeScope();
            var plan = byName[layer.Name];
            var a = layer.Weight.coefficients;
            var rows = layer.HasChannelGroups ? Mask(a.shape[0], plan.KeptOutputs, a.device) : null;
            ProximalGroupLasso.Scale(layer, rows, Mask(a.shape[1], plan.KeptRank!, a.device));
        }
    }

    private static Tensor Mask(long size, long[] kept, Device device)
    {
        var mask = zeros(size, device: device);
        mask.index_fill_(0, tensor(kept, device: device), 1);
        return mask;
    }
}
