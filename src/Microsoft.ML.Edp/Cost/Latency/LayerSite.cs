using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Where a conv or linear layer sits, as far as its speed is concerned: its plain shape, the map it reads,
/// and the ReLU and pool that follow it (ONNX Runtime fuses a ReLU into the conv before it, and a pool reads the
/// conv's blocked layout). The latency table times each layer at its site, and the basis and coefficient pair where the
/// layer trains as a compressed-aware block (<c>IsBlock</c>). <c>Groups</c> is a conv's group count.</summary>
internal sealed record LayerSite(string Name, bool IsConv, bool IsBlock, int InChannels, int OutChannels, int Kernel, int Stride,
    int Padding, int Height, int Width, ReluLayer? Relu, PoolLayer? Pool, int Groups = 1)
{
    /// <summary>A grouped conv whose groups read and write as many channels (depthwise convs, ResNeXt's and RegNet's 3x3
    /// convs), as <see cref="ConvLayer.ChannelsFollowInput"/> says of the layer: pruning takes whole groups from it, in
    /// and out together, so its kept widths are one width, a multiple of <see cref="ChannelsPerGroup"/>.</summary>
    public bool ChannelsFollowInput => Groups > 1 && InChannels == OutChannels;

    /// <summary>The input channels each group reads.</summary>
    public int ChannelsPerGroup => InChannels / Groups;

    /// <summary>The largest rank a compressed-aware block of this layer has (its basis is capped at the fan-in).</summary>
    public int MaxRank => Math.Min(OutChannels, InChannels * Kernel * Kernel);

    /// <summary>A stable description that a loaded table must match, e.g. <c>conv 3x3/1 pad 1 16-&gt;32 at 14x14 +relu +maxpool 2/2</c>.</summary>
    public string Signature
    {
        get
        {
            string relu = Relu is null ? "" : Relu.Max is float max ? FormattableString.Invariant($" +clip {max}") : " +relu";
            string pool = Pool is null ? "" : $" +{(Pool.IsMax ? "max" : "avg")}pool {Pool.Kernel}/{Pool.Stride} pad {Pool.Padding}";
            string groups = Groups > 1 ? $" in {Groups} groups" : "";
            return $"{(IsConv ? "conv" : "linear")} {Kernel}x{Kernel}/{Stride} pad {Padding} {InChannels}->{OutChannels}{groups} at {Height}x{Width}{relu}{pool}";
        }
    }

    /// <summary>The site of every conv and linear layer of <paramref name="graph"/>, in graph order.</summary>
    public static IReadOnlyList<LayerSite> Of(NetworkGraph graph)
    {
        var shapes = graph.Shapes();
        var sites = new List<LayerSite>();
        foreach (var layer in graph.Layers)
        {
            var input = shapes[layer.Input];
            int h = input.Length == 3 ? (int)input[1] : 1, w = input.Length == 3 ? (int)input[2] : 1;
            // Follow the output through a BN (folded into the layer on export), a ReLU and a pool, while each is the only reader.
            string value = layer.Name;
            LayerNode? Next() => graph.Consumers(value).ToList() is [var only] ? only : null;
            if (Next() is BatchNormLayer bn)
                value = bn.Name;
            var relu = Next() as ReluLayer;
            if (relu is not null)
                value = relu.Name;
            var pool = layer is ConvLayer ? Next() as PoolLayer : null;
            switch (layer)
            {
                case ConvLayer c:
                    sites.Add(new LayerSite(c.Name, true, c.IsBlock, c.InChannels, c.OutChannels, c.Kernel, c.Stride, c.Padding, h, w, relu, pool, c.Groups));
                    break;
                case LinearLayer l:
                    sites.Add(new LayerSite(l.Name, false, l.IsBlock, l.InFeatures, l.OutFeatures, 1, 1, 0, 1, 1, relu, null));
                    break;
            }
        }
        return sites;
    }
}
