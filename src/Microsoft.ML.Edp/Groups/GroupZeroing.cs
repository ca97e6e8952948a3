using Microsoft.ML.Edp.Network;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Groups;

/// <summary>Scales groups in the live network, every tensor of a group together: by masks, to set every group a plan
/// drops to exactly zero (so that training goes on without it and Pruning &amp; Merging later removes it without
/// changing the outputs), or by the proximal step's shrink factors.</summary>
internal static class GroupZeroing
{
    /// <summary>Zeroes what <paramref name="plans"/> drop in every compressed layer of <paramref name="net"/>.</summary>
    public static void Apply(EdpNet net, IReadOnlyList<LayerPlan> plans)
    {
        using var noGrad = no_grad();
        var byName = plans.ToDictionary(p => p.Name);
        foreach (var layer in LayerGroups.Of(net))
        {
            using var scope = NewDisposeScope();
            var plan = byName[layer.Name];
            var device = layer.Weight.Rows.device;
            var rows = layer.HasChannelGroups ? Mask(layer.Weight.OutChannels, plan.KeptOutputs, device) : null;
            Scale(layer, rows, layer.Weight.Columns is { } a ? Mask(a.shape[1], plan.KeptRank!, device) : null);
        }
    }

    /// <summary>Multiplies channel groups by <paramref name="rows"/> and rank groups by <paramref name="columns"/>.</summary>
    public static void Scale(LayerGroups layer, Tensor? rows, Tensor? columns)
    {
        if (rows is not null)
        {
            ScaleRows(layer.Weight.Rows, rows);
            ScaleAffine(layer, rows);
            foreach (var follower in layer.Followers ?? [])
                follower.ScaleFilters(rows);
        }
        if (columns is not null)
            layer.Weight.Columns!.mul_(columns.unsqueeze(0));
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

    /// <summary>Multiplies row i of <paramref name="weight"/> (a matrix or a conv's filters) by <paramref name="factors"/>[i].</summary>
    public static void ScaleRows(Tensor weight, Tensor factors) => weight.mul_(factors.view([-1, .. Enumerable.Repeat(1L, (int)weight.dim() - 1)]));

    private static Tensor Mask(long size, long[] kept, Device device)
    {
        var mask = zeros(size, device: device);
        mask.index_fill_(0, tensor(kept, device: device), 1);
        return mask;
    }
}
