using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Groups;

/// <summary>Scales groups in the live network, every tensor of a group together: by masks, to set every group a plan
/// drops to exactly zero (so that training goes on without it and Pruning &amp; Merging later removes it without
/// changing the outputs), or by the proximal step's shrink factors.</summary>
internal static class GroupZeroing
{
    /// <summary>Zeroes what <paramref name="plans"/> drop in every compressed-aware block of <paramref name="net"/>.</summary>
    public static void Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        var byName = plans.ToDictionary(p => p.Name);
        foreach (var layer in LayerGroups.Of(net))
        {
            using var scope = NewDisposeScope();
            var plan = byName[layer.Name];
            var a = layer.Weight.coefficients;
            var rows = layer.HasChannelGroups ? Mask(a.shape[0], plan.KeptOutputs, a.device) : null;
            Scale(layer, rows, Mask(a.shape[1], plan.KeptRank!, a.device));
        }
    }

    /// <summary>Multiplies channel groups by <paramref name="rows"/> and rank groups by <paramref name="columns"/>.</summary>
    public static void Scale(LayerGroups layer, Tensor? rows, Tensor? columns)
    {
        var a = layer.Weight.coefficients;
        if (rows is not null)
        {
            a.mul_(rows.unsqueeze(1));
            ScaleAffine(layer, rows);
            foreach (var follower in layer.Followers ?? [])
                follower.ScaleFilters(rows);
        }
        if (columns is not null)
            a.mul_(columns.unsqueeze(0));
    }

    /// <summary>Multiplies the BN gamma and beta and the bias of each channel group by <paramref name="rows"/>, leaving A.</summary>
    public static void ScaleAffine(LayerGroups layer, Tensor rows)
    {
        if (layer.Norm is { } bn)
        {
            bn.weight!.mul_(rows);
            bn.bias!.mul_(rows);
        }
        layer.Bias?.mul_(rows);
        foreach (var follower in layer.Followers ?? [])
            follower.ScaleAffine(rows);
    }

    private static Tensor Mask(long size, long[] kept, Device device)
    {
        var mask = zeros(size, device: device);
        mask.index_fill_(0, tensor(kept, device: device), 1);
        return mask;
    }
}
