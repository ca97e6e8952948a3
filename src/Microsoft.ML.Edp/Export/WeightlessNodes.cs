using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Export;

/// <summary>The inference node of each graph layer that carries no trained weight, as every exported graph writes it:
/// Pruning &amp; Merging's export and the plain network that the latency proof times.</summary>
internal static class WeightlessNodes
{
    /// <summary>The node of <paramref name="layer"/>, reading the values <paramref name="source"/> names for its
    /// inputs and writing <paramref name="output"/>; null for a conv, linear or BatchNorm layer, which the caller
    /// writes with its weights.</summary>
    public static GraphNode? Of(LayerNode layer, Func<string, string> source, string output) => layer switch
    {
        ConvLayer or LinearLayer or BatchNormLayer => null,
        ReluLayer r => new ReluNode(r.Name, source(r.Input), output, r.Max),
        PoolLayer p => new PoolNode(p.Name, source(p.Input), output, p.IsMax, p.Kernel, p.Stride, p.Padding, p.CeilMode),
        PadLayer p => new PadNode(p.Name, source(p.Input), output, p.Top, p.Left, p.Bottom, p.Right, p.Value),
        ActivationLayer a => new ActivationNode(a.Name, source(a.Input), output, a.Kind, a.Alpha, a.Beta),
        ChannelAffineLayer a => new ChannelAffineNode(a.Name, source(a.Input), output, a.Scale, a.Shift),
        GlobalPoolLayer g => new GlobalAveragePoolNode(g.Name, source(g.Input), output, g.KeepMap),
        ConcatLayer c => new ConcatNode(c.Name, c.Parts.Select(source).ToArray(), output),
        ChannelGateLayer g => new ChannelGateNode(g.Name, source(g.Input), source(g.Gate), output),
        ChannelSelectLayer s => new ChannelSelectNode(s.Name, source(s.Input), output, s.Channels),
        FlattenLayer f => new FlattenNode(f.Name, source(f.Input), output),
        AddLayer a => new AddNode(a.Name, source(a.Inputs[0]), source(a.Inputs[1]), output),
        _ => throw new NotSupportedException($"No inference node for layer '{layer.Name}' ({layer.GetType().Name})."),
    };
}
