using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>The padding of Conv and pooling windows. TorchSharp's conv and pools pad equally on all sides, so unequal or
/// SAME pads either turn out to be equal ones (the extra cells are never read, as in CNTK's [3, 3, 2, 2]) or become a
/// <see cref="PadLayer"/> in front of the window.</summary>
internal sealed partial class OnnxGraphImporter
{
    /// <summary>A window op's input after any explicit padding, and the equal padding it applies itself.</summary>
    private readonly record struct Placed(MapValue Input, int Padding);

    /// <summary>Places a k x k window moving by <paramref name="stride"/>. <paramref name="padValue"/> is what a padded
    /// cell holds when padding must be made explicit (zero for a conv, negative infinity for a max pool), or null
    /// where it cannot be (an average that leaves padded cells out).</summary>
    private Placed PlaceWindow(OnnxNodeReader n, MapValue x, long k, long stride, bool ceilMode, float? padValue, bool isPool)
    {
        var s = ImageMap(n, x);
        var p = n.Pads(s[1], s[2], k, stride);
        string padText = $"[{Dims(p)}]";
        if (s[1] + p[0] + p[2] < k || s[2] + p[1] + p[3] < k)
            throw n.Fail($"has a {k}x{k} window that does not fit its {s[1]}x{s[2]} input with pads {padText}");
        long outH = NetworkGraph.WindowCount(s[1], k, stride, p[0], p[2], ceilMode);
        long outW = NetworkGraph.WindowCount(s[2], k, stride, p[1], p[3], ceilMode);
        // Equal padding reads the same cells when the output size agrees and the extra cells at the end lie beyond
        // the last window. PyTorch's pools take at most half the window as padding.
        long pad = p[0];
        bool equal = p[1] == pad && p[2] <= pad && p[3] <= pad && (!isPool || pad <= k / 2)
            && NetworkGraph.WindowCount(s[1], k, stride, pad, pad, ceilMode) == outH
            && NetworkGraph.WindowCount(s[2], k, stride, pad, pad, ceilMode) == outW;
        if (equal)
            return new Placed(x, (int)pad);
        if (padValue is not float value)
            throw n.Fail($"has pads {padText} on a {s[1]}x{s[2]} map; an average that leaves padded cells out (count_include_pad 0) is supported only with equal padding on all sides of at most half the window");
        long[] paddedShape = [s[0], s[1] + p[0] + p[2], s[2] + p[1] + p[3]];
        if (NetworkGraph.WindowCount(paddedShape[1], k, stride, 0, 0, ceilMode) != outH || NetworkGraph.WindowCount(paddedShape[2], k, stride, 0, 0, ceilMode) != outW)
            throw n.Fail($"has ceil_mode 1 with pads {padText} on a {s[1]}x{s[2]} map, where a last window would start in the padding; only pads that keep every window starting in the map are supported with ceil_mode");
        var padded = Emit(new PadLayer(_names.Unique(n.LayerName + "_pad"), x.Layer, (int)p[0], (int)p[1], (int)p[2], (int)p[3], value));
        return new Placed(padded, 0);
    }
}
