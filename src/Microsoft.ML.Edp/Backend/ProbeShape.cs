using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Backend;

/// <summary>One conv or linear call a fit makes: the layer's geometry, its input size and the batch size. A linear layer
/// is a 1x1 "conv" on a 1x1 map with <see cref="IsLinear"/> set.</summary>
internal sealed record ProbeShape(bool IsLinear, int Batch, int InChannels, int OutChannels, int Height, int Width,
    int Kernel = 1, int Stride = 1, int Padding = 0, bool HasBias = true, int Groups = 1)
{
    public override string ToString() => IsLinear
        ? $"linear {InChannels}->{OutChannels}, batch {Batch}"
        : $"conv {Kernel}x{Kernel}/{Stride} pad {Padding} {InChannels}->{OutChannels}{(Groups > 1 ? $" in {Groups} groups" : "")} at {Height}x{Width}, batch {Batch}";

    /// <summary>Every distinct conv and linear call of <paramref name="graph"/> at each of <paramref name="batches"/>.
    /// Compressed layers train as one composed conv of the plain shape, so the plain shapes are all there is.</summary>
    public static IReadOnlyList<ProbeShape> Of(NetworkGraph graph, IEnumerable<int> batches)
    {
        var shapes = graph.Shapes();
        var layers = graph.Layers.Select(layer => layer switch
        {
            ConvLayer c => new ProbeShape(false, 0, c.InChannels, c.OutChannels, (int)shapes[c.Input][1], (int)shapes[c.Input][2],
                c.Kernel, c.Stride, c.Padding, c.Biased, c.Groups),
            LinearLayer l => new ProbeShape(true, 0, l.InFeatures, l.OutFeatures, 1, 1),
            _ => null,
        }).OfType<ProbeShape>().Distinct().ToList();
        return batches.Distinct().SelectMany(n => layers.Select(s => s with { Batch = n })).ToList();
    }

    /// <summary>Multiply-accumulates of one forward pass.</summary>
    [JsonIgnore] public long Macs => (long)Batch * InChannels / Groups * OutChannels * Kernel * Kernel * OutputHeight * OutputWidth;

    [JsonIgnore] public int OutputHeight => (Height + 2 * Padding - Kernel) / Stride + 1;
    [JsonIgnore] public int OutputWidth => (Width + 2 * Padding - Kernel) / Stride + 1;
}
