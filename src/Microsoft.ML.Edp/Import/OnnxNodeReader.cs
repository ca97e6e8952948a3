using Onnx;
using AttributeType = Onnx.AttributeProto.Types.AttributeType;

namespace Microsoft.ML.Edp.Import;

/// <summary>One ONNX node as the importer sees it: its display name, its inputs and outputs, typed attributes, and
/// errors that name the model, the node and its operator.</summary>
internal sealed class OnnxNodeReader(NodeProto node, int index, string model)
{
    /// <summary>Any kernel, stride or pad above this is corrupt, not a real image model, and would overflow the shape walk.</summary>
    public const long MaxWindow = 1 << 15;

    public NodeProto Node => node;
    public string OpType => node.OpType;

    /// <summary>The node's name, or for a nameless node its position and first output.</summary>
    public string DisplayName { get; } = node.Name.Length > 0 ? node.Name
        : $"#{index}{(node.Output.Count > 0 ? $" -> {node.Output[0]}" : "")}";

    /// <summary>The name to give the layer this node becomes, before sanitising.</summary>
    public string LayerName => node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault(o => o.Length > 0) ?? $"node{index}";

    public EdpOnnxImportException Fail(string reason)
        => new($"ONNX model {model}: node '{DisplayName}' ({OpType}) {reason}.", DisplayName, OpType);

    /// <summary>Input <paramref name="i"/>, or null where it is absent or left empty (an omitted optional input).</summary>
    public string? Input(int i) => i < node.Input.Count && node.Input[i].Length > 0 ? node.Input[i] : null;

    public string RequiredInput(int i, string what) => Input(i) ?? throw Fail($"has no {what} (input {i})");

    /// <summary>The single output; optional extra outputs must be left unnamed or unread (checked by the caller through <paramref name="isRead"/>).</summary>
    public string Output(Func<string, bool> isRead)
    {
        if (node.Output.Count == 0 || node.Output[0].Length == 0)
            throw Fail("has no output");
        for (int i = 1; i < node.Output.Count; i++)
            if (node.Output[i].Length > 0 && isRead(node.Output[i]))
                throw Fail($"has its output {i} '{node.Output[i]}' read; only the first output is supported (inference mode)");
        return node.Output[0];
    }

    /// <summary>Rejects any attribute not listed: an unknown attribute may change what the op computes.</summary>
    public void AllowOnly(params string[] names)
    {
        foreach (var a in node.Attribute)
            if (!names.Contains(a.Name))
                throw Fail($"has attribute '{a.Name}', which the importer does not support{(names.Length > 0 ? $" (it reads {string.Join(", ", names)})" : "")}");
    }

    public bool Has(string name) => node.Attribute.Any(a => a.Name == name);

    public long Int(string name, long fallback)
        => Find(name, AttributeType.Int, a => a.I != 0 || a.Type == AttributeType.Int) is { } a ? a.I : fallback;

    public float Float(string name, float fallback)
        => Find(name, AttributeType.Float, a => a.F != 0 || a.Type == AttributeType.Float) is { } a ? a.F : fallback;

    public string String(string name, string fallback)
        => Find(name, AttributeType.String, a => !a.S.IsEmpty) is { } a ? a.S.ToStringUtf8() : fallback;

    public long[]? Ints(string name)
        => Find(name, AttributeType.Ints, a => a.Ints.Count > 0) is { } a ? [.. a.Ints] : null;

    public float[]? Floats(string name)
        => Find(name, AttributeType.Floats, a => a.Floats.Count > 0) is { } a ? [.. a.Floats] : null;

    public TensorProto? Tensor(string name)
        => Find(name, AttributeType.Tensor, a => a.T is not null) is { } a ? a.T ?? throw Fail($"has an empty tensor attribute '{name}'") : null;

    /// <summary>A 2-D window attribute (kernel_shape, strides, dilations) with equal entries, or the fallback.</summary>
    public long SquarePair(string name, long fallback, long min)
    {
        var v = Ints(name);
        if (v is null)
            return fallback;
        if (v.Length != 2)
            throw Fail($"has {name} [{string.Join(", ", v)}]; only 2-D windows are supported");
        if (v[0] != v[1])
            throw Fail($"has {name} [{v[0]}, {v[1]}]; only equal height and width are supported");
        if (v[0] < min || v[0] > MaxWindow)
            throw Fail($"has {name} {v[0]}, outside {min}..{MaxWindow}");
        return v[0];
    }

    /// <summary>The padding [top, left, bottom, right] of a k x k window moving by <paramref name="stride"/> over a
    /// <paramref name="height"/> x <paramref name="width"/> map, from pads or auto_pad (SAME_UPPER puts the odd cell
    /// after the map, SAME_LOWER before it, as ONNX defines them).</summary>
    public long[] Pads(long height, long width, long kernel, long stride)
    {
        var autoPad = String("auto_pad", "NOTSET");
        var pads = Ints("pads");
        switch (autoPad)
        {
            case "NOTSET" or "VALID":
                if (pads is null)
                    return [0, 0, 0, 0];
                if (pads.Length != 4)
                    throw Fail($"has pads [{string.Join(", ", pads)}]; 2-D windows take 4 pads");
                if (pads.Any(p => p < 0 || p > MaxWindow))
                    throw Fail($"has pads [{string.Join(", ", pads)}], outside 0..{MaxWindow}");
                if (autoPad == "VALID" && pads.Any(p => p != 0))
                    throw Fail($"has auto_pad VALID with non-zero pads [{string.Join(", ", pads)}]");
                // ONNX lists the begins of each axis, then the ends: [top, left, bottom, right].
                return pads;
            case "SAME_UPPER" or "SAME_LOWER":
                if (pads is not null && pads.Any(p => p != 0))
                    throw Fail($"has auto_pad {autoPad} with explicit pads [{string.Join(", ", pads)}]; ONNX allows one or the other");
                var (top, bottom) = Same(height, kernel, stride, autoPad == "SAME_UPPER");
                var (left, right) = Same(width, kernel, stride, autoPad == "SAME_UPPER");
                return [top, left, bottom, right];
            default:
                throw Fail($"has auto_pad '{autoPad}'; NOTSET, VALID, SAME_UPPER and SAME_LOWER are defined");
        }
    }

    /// <summary>SAME padding along one axis: the output has ceil(size / stride) cells.</summary>
    private static (long Before, long After) Same(long size, long kernel, long stride, bool upper)
    {
        long total = Math.Max(0, ((size + stride - 1) / stride - 1) * stride + kernel - size);
        return upper ? (total / 2, total - total / 2) : (total - total / 2, total / 2);
    }

    private static bool IsEmpty(AttributeProto a)
        => a.F == 0 && a.I == 0 && a.S.IsEmpty && a.T is null && a.G is null && a.Floats.Count == 0 && a.Ints.Count == 0
            && a.Strings.Count == 0 && a.Tensors.Count == 0 && a.Graphs.Count == 0;

    private AttributeProto? Find(string name, AttributeType type, Func<AttributeProto, bool> untypedHasValue)
    {
        var a = node.Attribute.FirstOrDefault(x => x.Name == name);
        if (a is null)
            return null;
        // Old exporters may leave the type unset; then the field that holds a value says it, and an attribute with
        // no value at all is the type's zero.
        if (a.Type == type || (a.Type == AttributeType.Undefined && (untypedHasValue(a) || IsEmpty(a))))
            return a;
        throw Fail($"has attribute '{name}' of type {a.Type}; {type} is expected");
    }
}
