using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Export;

/// <summary>An inference-only op. Values flow between nodes by name.</summary>
internal abstract record GraphNode(string Name, string[] Inputs, string Output);

/// <summary>A 2-D convolution with square kernel, stride and padding, and an optional bias (BN already folded in).</summary>
internal sealed record ConvNode(string Name, string Input, string Output, DenseTensor Weight, DenseTensor? Bias, int Stride, int Padding, int Groups = 1)
    : GraphNode(Name, [Input], Output)
{
    public int Kernel => (int)Weight.Shape[2];
}

/// <summary>y = x W^T + b, on [N, c] inputs.</summary>
internal sealed record GemmNode(string Name, string Input, string Output, DenseTensor Weight, DenseTensor? Bias)
    : GraphNode(Name, [Input], Output);

/// <summary>ReLU, or with <c>Max</c> a clipped ReLU (ONNX Clip from 0 to Max).</summary>
internal sealed record ReluNode(string Name, string Input, string Output, float? Max = null) : GraphNode(Name, [Input], Output);

/// <summary>Max or average pooling with a square window; average pooling excludes padded cells. <c>CeilMode</c> rounds
/// the output size up.</summary>
internal sealed record PoolNode(string Name, string Input, string Output, bool IsMax, int Kernel, int Stride, int Padding, bool CeilMode = false)
    : GraphNode(Name, [Input], Output);

/// <summary>Constant padding of the map's height and width.</summary>
internal sealed record PadNode(string Name, string Input, string Output, int Top, int Left, int Bottom, int Right, float Value) : GraphNode(Name, [Input], Output);

/// <summary>An element-wise activation other than ReLU.</summary>
internal sealed record ActivationNode(string Name, string Input, string Output, Activation Kind, float Alpha, float Beta) : GraphNode(Name, [Input], Output);

/// <summary>x * Scale[c] + Shift[c] per channel (input normalisation).</summary>
internal sealed record ChannelAffineNode(string Name, string Input, string Output, float[] Scale, float[] Shift) : GraphNode(Name, [Input], Output);

/// <summary>[N, C, H, W] to [N, C*H*W].</summary>
internal sealed record FlattenNode(string Name, string Input, string Output) : GraphNode(Name, [Input], Output);

/// <summary>Global average pooling followed by flattening to [N, C], or with <c>KeepMap</c> to [N, C, 1, 1].</summary>
internal sealed record GlobalAveragePoolNode(string Name, string Input, string Output, bool KeepMap = false) : GraphNode(Name, [Input], Output);

/// <summary>Maps stacked along the channels.</summary>
internal sealed record ConcatNode(string Name, string[] Parts, string Output) : GraphNode(Name, Parts, Output);

/// <summary>A map times a per-channel gate [N, C, 1, 1].</summary>
internal sealed record ChannelGateNode(string Name, string Input, string Gate, string Output) : GraphNode(Name, [Input, Gate], Output);

/// <summary>The listed channels of a map, in that order.</summary>
internal sealed record ChannelSelectNode(string Name, string Input, string Output, long[] Channels) : GraphNode(Name, [Input], Output);

internal sealed record AddNode(string Name, string Left, string Right, string Output) : GraphNode(Name, [Left, Right], Output);

/// <summary>The exported network: an image input [N, C, H, W] to class logits [N, K], with training-only parts
/// (BN statistics, zero groups, factor pairs not worth keeping) already removed or folded.</summary>
internal sealed record InferenceGraph(string Input, int Channels, int Height, int Width, string Logits, int Classes, IReadOnlyList<GraphNode> Nodes)
{
    /// <summary>Weights and biases the graph holds.</summary>
    public long ParameterCount => Nodes.Sum(n => n switch
    {
        ConvNode c => c.Weight.Count + (c.Bias?.Count ?? 0),
        GemmNode g => g.Weight.Count + (g.Bias?.Count ?? 0),
        _ => 0L,
    });
}
