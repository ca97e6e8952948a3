using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>Nodes that combine, gate or reorder channels: Concat of maps, squeeze-excitation (ReduceMean and a gate
/// multiplied in), the channel shuffle (Reshape, Transpose, Reshape) and Split, Slice or Gather on the channels.</summary>
internal sealed partial class OnnxGraphImporter
{
    /// <summary>A map viewed as [N, g, C / g, H, W], the first step of a channel shuffle.</summary>
    private sealed record GroupedValue(MapValue Source, long Groups) : Value;

    /// <summary>A grouped map with its two group axes swapped, the second step.</summary>
    private sealed record ShuffledValue(MapValue Source, long Groups) : Value;

    private static EdpOnnxImportException InsideShuffle(OnnxNodeReader n)
        => n.Fail("reads a 5-D value from the middle of a channel shuffle; only the shuffle's Transpose and Reshape may read it");

    private void Transpose(OnnxNodeReader n)
    {
        n.AllowOnly("perm");
        if (Read(n, 0, "input") is not GroupedValue g || n.Ints("perm") is not [0, 2, 1, 3, 4])
            throw n.Fail($"transposes with perm [{Dims(n.Ints("perm") ?? [])}]; only the channel shuffle's swap of the two group axes of [N, groups, channels / groups, H, W] (perm [0, 2, 1, 3, 4]) is supported");
        Bind(n.Output(IsRead), new ShuffledValue(g.Source, g.Groups));
    }

    /// <summary>Concat of maps along the channels (DenseNet, Inception, SqueezeNet's fire modules).</summary>
    private void ConcatMaps(OnnxNodeReader n)
    {
        n.AllowOnly("axis");
        var parts = Enumerable.Range(0, n.Node.Input.Count).Select(i => Map(n, i, $"input {i}")).ToArray();
        var first = ImageMap(n, parts[0]);
        if (n.Int("axis", 0) is not (1 or -3))
            throw n.Fail($"concatenates maps along axis {n.Int("axis", 0)}; only the channel axis (1) is supported");
        foreach (var p in parts)
            if (p.Shape.Length != 3 || p.Shape[1] != first[1] || p.Shape[2] != first[2])
                throw n.Fail($"concatenates maps of different sizes ([{Dims(first)}] and [{Dims(p.Shape)}]); the maps must share height and width");
        var layer = new ConcatLayer(_names.Unique(n.LayerName), parts.Select(p => p.Layer).ToArray());
        Bind(n.Output(IsRead), Emit(layer));
    }

    /// <summary>ReduceMean over height and width: a global average pool (the squeeze of squeeze-excitation).</summary>
    private void ReduceMean(OnnxNodeReader n)
    {
        long[]? axes;
        if (_header.Opset < 18)
        {
            n.AllowOnly("axes", "keepdims");
            axes = n.Ints("axes");
        }
        else
        {
            n.AllowOnly("keepdims", "noop_with_empty_axes");
            axes = n.Input(1) is null ? null : OnnxTensorReader.Integers(ConstantProto(n, 1, "axes"), reason => n.Fail($"axes: {reason}"));
        }
        var x = Map(n, 0, "input");
        ImageMap(n, x);
        if (axes is null || axes.Select(a => a < 0 ? a + 4 : a).Order().SequenceEqual(new long[] { 2, 3 }) is false)
            throw n.Fail($"averages over axes [{Dims(axes ?? [])}]; only the mean over height and width (axes [2, 3]) is supported");
        var pooled = new PooledValue(n.LayerName, x);
        if (n.Int("keepdims", 1) != 0)
            Bind(n.Output(IsRead), pooled);
        else
            Bind(n.Output(IsRead), AsFeatures(pooled));
    }

    /// <summary>A map times a per-channel gate [C, 1, 1] computed from it (the excitation).</summary>
    private bool TryGate(OnnxNodeReader n, MapValue a, MapValue b)
    {
        foreach (var (x, gate) in new[] { (a, b), (b, a) })
            if (x.Shape.Length == 3 && gate.Shape.SequenceEqual([x.Shape[0], 1L, 1L]) && !(x.Shape[1] == 1 && x.Shape[2] == 1))
            {
                Bind(n.Output(IsRead), Emit(new ChannelGateLayer(_names.Unique(n.LayerName), x.Layer, gate.Layer)));
                return true;
            }
        return false;
    }

    /// <summary>Split along the channels: each output becomes the range of channels it holds.</summary>
    private void Split(OnnxNodeReader n)
    {
        n.AllowOnly(_header.Opset < 13 ? ["axis", "split"] : ["axis", "num_outputs"]);
        var x = Map(n, 0, "input");
        var s = ImageMap(n, x);
        if (n.Int("axis", 0) is not (1 or -3))
            throw n.Fail($"splits along axis {n.Int("axis", 0)}; only splits of the channels (axis 1) are supported");
        int outputs = n.Node.Output.Count;
        var sizes = _header.Opset < 13 ? n.Ints("split")
            : n.Input(1) is null ? null : OnnxTensorReader.Integers(ConstantProto(n, 1, "split"), reason => n.Fail($"split: {reason}"));
        if (sizes is null)
        {
            // Equal parts, the last one smaller when they do not divide (opset 18's num_outputs).
            long part = (s[0] + outputs - 1) / outputs;
            sizes = Enumerable.Range(0, outputs).Select(i => Math.Max(0, Math.Min(part, s[0] - i * part))).ToArray();
        }
        if (sizes.Length != outputs || sizes.Any(v => v < 1) || sizes.Sum() != s[0])
            throw n.Fail($"splits {s[0]} channels into [{Dims(sizes)}] for {outputs} outputs; positive sizes, one per output, adding up to the channels are expected");
        long start = 0;
        for (int i = 0; i < outputs; i++)
        {
            var name = n.Node.Output[i];
            if (name.Length > 0 && IsRead(name))
            {
                var channels = Enumerable.Range(0, (int)sizes[i]).Select(c => start + c).ToArray();
                Bind(name, Emit(new ChannelSelectLayer(_names.Unique($"{n.LayerName}_{i}"), x.Layer, channels)));
            }
            start += sizes[i];
        }
    }

    /// <summary>Gather of channels by constant indices along axis 1: how this library's writer exports a channel shuffle
    /// or a kept channel range, so that its compressed models import back.</summary>
    private void GatherChannels(OnnxNodeReader n)
    {
        var x = Map(n, 0, "data");
        var s = ImageMap(n, x);
        if (n.Int("axis", 0) is not (1 or -3))
            throw n.Fail($"gathers a map along axis {n.Int("axis", 0)}; only gathering channels (axis 1) is supported");
        var proto = ConstantProto(n, 1, "indices");
        if (proto.Dims.Count != 1)
            throw n.Fail($"gathers channels with indices of rank {proto.Dims.Count}; a 1-D list of channels is expected");
        var channels = OnnxTensorReader.Integers(proto, reason => n.Fail($"indices: {reason}")).Select(c => c < 0 ? c + s[0] : c).ToArray();
        if (channels.Length == 0 || channels.Any(c => c < 0 || c >= s[0]))
            throw n.Fail($"gathers channels [{Dims(channels)}] of a map of {s[0]}; at least one channel, each in range, is expected");
        Bind(n.Output(IsRead), Emit(new ChannelSelectLayer(_names.Unique(n.LayerName), x.Layer, channels)));
    }

    /// <summary>Slice of a range of channels, step 1.</summary>
    private void Slice(OnnxNodeReader n)
    {
        long[] starts, ends, axes;
        long[]? steps = null;
        if (_header.Opset < 10)
        {
            n.AllowOnly("axes", "ends", "starts");
            starts = n.Ints("starts") ?? throw n.Fail("has no starts");
            ends = n.Ints("ends") ?? throw n.Fail("has no ends");
            axes = n.Ints("axes") ?? [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        }
        else
        {
            n.AllowOnly();
            long[] Ints(int i, string what) => OnnxTensorReader.Integers(ConstantProto(n, i, what), reason => n.Fail($"{what}: {reason}"));
            starts = Ints(1, "starts");
            ends = Ints(2, "ends");
            axes = n.Input(3) is null ? [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)] : Ints(3, "axes");
            steps = n.Input(4) is null ? null : Ints(4, "steps");
        }
        var x = Map(n, 0, "input");
        var s = ImageMap(n, x);
        if (axes is not [1 or -3] || starts.Length != 1 || ends.Length != 1 || steps is not (null or [1]))
            throw n.Fail($"slices axes [{Dims(axes)}] with steps [{Dims(steps ?? [1])}]; only a range of channels (axis 1, step 1) is supported");
        long Clamp(long v) => Math.Clamp(v < 0 ? v + s[0] : v, 0, s[0]);
        long from = Clamp(starts[0]), to = Clamp(ends[0]);
        if (to <= from)
            throw n.Fail($"slices channels {starts[0]} to {ends[0]} of {s[0]}, which is empty");
        var channels = Enumerable.Range(0, (int)(to - from)).Select(c => from + c).ToArray();
        Bind(n.Output(IsRead), Emit(new ChannelSelectLayer(_names.Unique(n.LayerName), x.Layer, channels)));
    }
}
