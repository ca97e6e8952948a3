namespace Microsoft.ML.Edp.Network;

/// <summary>Which layers act on each channel alone, the facts channel pruning follows through a graph.</summary>
internal static class ChannelWise
{
    /// <summary>True when output channel c depends only on input channel c and the layer has no per-channel parameters
    /// of its own, so the kept channels of its input are the kept channels of its output. (BatchNorm has parameters, but
    /// only the one that follows a conv or linear layer is kept, and it is folded into that layer.)</summary>
    public static bool PassesChannels(LayerNode layer) => layer is ReluLayer or PoolLayer or GlobalPoolLayer or BatchNormLayer
        or PadLayer or ActivationLayer;

    /// <summary>True when an all-zero channel stays exactly zero through the layer, so a pruned channel can be removed
    /// from the layers that read it further down. A max pool's negative-infinity padding qualifies because the importer
    /// puts it only in front of a max pool, whose every window holds a map cell.</summary>
    public static bool KeepsZeroChannels(LayerNode layer) => layer switch
    {
        ReluLayer or PoolLayer or GlobalPoolLayer => true,
        PadLayer p => p.Value == 0 || float.IsNegativeInfinity(p.Value),
        ActivationLayer a => a.KeepsZero,
        _ => false,
    };
}
