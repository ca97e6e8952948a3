using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;

namespace Microsoft.ML.Edp.Pruning;

/// <summary>Decides, from the group norms alone, what Pruning &amp; Merging keeps in each layer. Cheap enough to run
/// every epoch for the live rank and width.</summary>
internal static class PruningPlanner
{
    public static IReadOnlyList<LayerPlan> Plan(EdpNet net, double relativeThreshold, EdpChannelGroup channelGroup, int channelMultiple = 1)
    {
        var plans = new List<LayerPlan>();
        var pixels = net.Spec.ConvOutputPixels();
        long[] inputs = GroupSelection.All(net.Spec.InChannels);
        for (int i = 0; i < net.Blocks.Count; i++)
        {
            var (block, s) = (net.Blocks[i], net.Blocks[i].Spec);
            var (outputs, rank) = Select(block.conv, block.bn, s.Name, s.OutChannels, relativeThreshold, channelGroup, channelMultiple);
            plans.Add(new LayerPlan(s.Name, true, [s.OutChannels, s.InChannels, s.Kernel, s.Kernel], pixels[i], inputs, outputs, rank));
            inputs = outputs;
        }
        var (classes, headRank) = Select(net.head.linear, null, NetworkSpec.ClassifierName, net.Spec.Classes, relativeThreshold, channelGroup, channelMultiple);
        plans.Add(new LayerPlan(NetworkSpec.ClassifierName, false, [net.Spec.Classes, net.Spec.Convs[^1].OutChannels], 1, inputs, classes, headRank));
        return plans;
    }

    private static (long[] Outputs, long[]? Rank) Select(LayerWeight weight, TorchSharp.Modules.BatchNorm? bn, string name, long outChannels, double threshold, EdpChannelGroup channelGroup, int multiple)
    {
        if (weight is not CompressedWeight cab)
            return (GroupSelection.All(outChannels), null);
        var (rankNorms, channelNorms) = ProximalGroupLasso.GroupNorms(new ProximalGroupLasso.Layer(name, cab, bn), channelGroup);
        var outputs = channelNorms is null ? GroupSelection.All(outChannels) : GroupSelection.Keep(channelNorms, threshold, multiple);
        return (outputs, GroupSelection.Keep(rankNorms, threshold, multiple));
    }
}
