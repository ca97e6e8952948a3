using Onnx;

namespace Microsoft.ML.Edp.Import;

/// <summary>The shape arithmetic older PyTorch exports write for <c>x.view(x.size(0), -1)</c>: Shape, Gather of the
/// batch, Unsqueeze and Concat with -1, feeding a Reshape. It is evaluated at import, with the batch kept symbolic.</summary>
internal sealed partial class OnnxGraphImporter
{
    /// <summary>Marks the batch size in a <see cref="ShapeValue"/>: known only at run time.</summary>
    private const long BatchDim = long.MinValue;

    /// <summary>A shape, or one element of one (<c>Scalar</c>), known at import but for the batch.</summary>
    private sealed record ShapeValue(long[] Dims, bool Scalar) : Value;

    private void ShapeOf(OnnxNodeReader n)
    {
        n.AllowOnly();
        long[] dims = [BatchDim, .. Shape(Read(n, 0, "input"))];
        Bind(n.Output(IsRead), new ShapeValue(dims, Scalar: false));
    }

    private void Gather(OnnxNodeReader n)
    {
        n.AllowOnly("axis");
        if (ReadAny(n, 0, "data") is MapValue or PooledValue)
        {
            GatherChannels(n);
            return;
        }
        if (ReadAny(n, 0, "data") is not ShapeValue { Scalar: false } shape)
            throw n.Fail("gathers from a tensor; only gathering channels of a map (axis 1) and gathering from a shape computed by Shape (for a Reshape's target) are supported");
        if (n.Int("axis", 0) != 0)
            throw n.Fail($"gathers along axis {n.Int("axis", 0)} of a shape; a shape has only axis 0");
        var proto = ConstantProto(n, 1, "indices");
        var indices = OnnxTensorReader.Integers(proto, reason => n.Fail($"indices: {reason}"));
        var picked = indices.Select(i => i >= -shape.Dims.Length && i < shape.Dims.Length ? shape.Dims[i < 0 ? i + shape.Dims.Length : i]
            : throw n.Fail($"gathers index {i} from a shape of {shape.Dims.Length} dims")).ToArray();
        Bind(n.Output(IsRead), new ShapeValue(picked, Scalar: proto.Dims.Count == 0));
    }

    private void Unsqueeze(OnnxNodeReader n)
    {
        long[]? axes;
        if (_header.Opset < 13)
        {
            n.AllowOnly("axes");
            axes = n.Ints("axes");
        }
        else
        {
            n.AllowOnly();
            axes = n.Input(1) is null ? null : OnnxTensorReader.Integers(ConstantProto(n, 1, "axes"), reason => n.Fail($"axes: {reason}"));
        }
        if (ReadAny(n, 0, "input") is not ShapeValue { Scalar: true } scalar || axes is not [0 or -1])
            throw n.Fail("unsqueezes something other than one element of a shape at axis 0; only the shape arithmetic of a Reshape's target is supported");
        Bind(n.Output(IsRead), scalar with { Scalar = false });
    }

    private void Concat(OnnxNodeReader n)
    {
        if (n.Node.Input.Any(i => _values.GetValueOrDefault(i) is MapValue or PooledValue))
        {
            ConcatMaps(n);
            return;
        }
        n.AllowOnly("axis");
        if (n.Int("axis", 0) is not (0 or -1))
            throw n.Fail($"concatenates along axis {n.Int("axis", 0)}; only the 1-D shape arithmetic of a Reshape's target is supported");
        var dims = new List<long>();
        for (int i = 0; i < n.Node.Input.Count; i++)
            dims.AddRange(ShapeInput(n, i));
        Bind(n.Output(IsRead), new ShapeValue([.. dims], Scalar: false));
    }

    /// <summary>A 1-D shape: an integer constant, or one computed from Shape (its batch marked <see cref="BatchDim"/>).</summary>
    private long[] ShapeInput(OnnxNodeReader n, int i)
    {
        var name = n.RequiredInput(i, "shape");
        if (_constants.TryGetValue(name, out var proto))
        {
            var values = OnnxTensorReader.Integers(proto, reason => n.Fail($"shape: {reason}"));
            return proto.Dims.Count == 1 ? values : throw n.Fail($"reads the shape '{name}' of rank {proto.Dims.Count}; a 1-D shape is expected");
        }
        return ReadAny(n, i, "shape") is ShapeValue { Scalar: false } shape ? shape.Dims
            : throw n.Fail($"reads its shape from '{name}', which is neither a constant nor computed from Shape");
    }

    private static string ShapeText(IEnumerable<long> dims) => string.Join(", ", dims.Select(d => d == BatchDim ? "N" : d.ToString()));
}
