using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Edp.Import;

/// <summary>What the importer needs from an ONNX model before it walks the nodes: the parsed graph, its opset, the one
/// image input and the constants (initializers). <c>Resized</c> says so when the image size the caller gave replaces
/// the input's fixed height and width.</summary>
internal sealed record OnnxModelHeader(GraphProto Graph, long Opset, string InputName, int Channels, int Height, int Width,
    long? FixedBatch, IReadOnlyDictionary<string, TensorProto> Initializers, string? Resized = null);

/// <summary>Parses ONNX bytes and checks the model as a whole: IR version, opset, the image input and the single output.</summary>
internal static class OnnxModelReader
{
    public const long MinIrVersion = 3, MaxIrVersion = 11;
    public const long MinOpset = 7, MaxOpset = 22;

    /// <summary>Height and width above this, or more input values than <see cref="MaxInputSize"/>, are corrupt dims.</summary>
    private const long MaxImageSide = 1 << 14, MaxInputSize = 1 << 28;

    /// <summary>Reads the header. <paramref name="image"/>, when given, is the size the caller's data has: fixed input
    /// dims must equal it, and symbolic ones take it. <paramref name="directory"/> is the model's folder, where its
    /// external data files are, or null for a model given as bytes.</summary>
    public static OnnxModelHeader Read(byte[] bytes, string model, (int Channels, int Height, int Width)? image, string? directory = null)
    {
        EdpOnnxImportException Fail(string reason, Exception? inner = null) => new($"ONNX model {model}: {reason}.", innerException: inner);

        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Fail($"is not a valid ONNX protobuf file ({e.Message})", e);
        }
        if (proto.IrVersion is < MinIrVersion or > MaxIrVersion)
            throw Fail($"has IR version {proto.IrVersion}; the importer reads IR {MinIrVersion} to {MaxIrVersion}");
        var opsets = proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).ToArray();
        if (opsets.Length != 1)
            throw Fail(opsets.Length == 0 ? "imports no opset of the default ONNX domain" : "imports the default ONNX domain more than once");
        if (opsets[0] is < MinOpset or > MaxOpset)
            throw Fail($"uses opset {opsets[0]}; the importer reads opsets {MinOpset} to {MaxOpset}");
        var graph = proto.Graph ?? throw Fail("has no graph");

        var initializers = new Dictionary<string, TensorProto>();
        foreach (var t in graph.Initializer)
            if (!initializers.TryAdd(t.Name, OnnxExternalData.Load(t, directory, reason => Fail(reason))))
                throw Fail($"has two initializers named '{t.Name}'");

        // IR < 4 lists every initializer among the graph inputs as well; only the rest are fed at run time.
        var inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).ToArray();
        if (inputs.Length != 1)
            throw Fail($"has {inputs.Length} inputs that are not initializers ({string.Join(", ", inputs.Select(i => $"'{i.Name}'"))}); the importer needs exactly one image input [N, C, H, W]");
        var input = inputs[0];
        var tensorType = input.Type?.TensorType;
        if (tensorType is null || tensorType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw Fail($"has input '{input.Name}' that is not a FLOAT tensor; the importer needs a float image input [N, C, H, W]");
        var dims = tensorType.Shape?.Dim;
        if (dims is null || dims.Count != 4)
            throw Fail($"has input '{input.Name}' of rank {dims?.Count.ToString() ?? "unknown"}; the importer needs an image input [N, C, H, W]");

        string[] names = ["channels", "height", "width"];
        int[]? expected = image is var (c, h, w) ? [c, h, w] : null;
        var size = new int[3];
        string? resized = null;
        for (int i = 0; i < 3; i++)
        {
            var d = dims[i + 1];
            if (d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
            {
                if (d.DimValue < 1 || d.DimValue > MaxImageSide)
                    throw Fail($"has input '{input.Name}' with {names[i]} {d.DimValue}, outside 1..{MaxImageSide}");
                size[i] = (int)d.DimValue;
                if (expected is not null && expected[i] != size[i] && i == 0)
                    throw Fail($"takes images of {names[i]} {size[i]} (input '{input.Name}' is [N, {FormatDims(dims)}]), but the options give {names[i]} {expected[i]} (ImageChannels x ImageHeight x ImageWidth = {string.Join(" x ", expected)})");
                // A fixed height or width is the size the model was exported at; convolutions and global pools work at
                // any size, so the network is read at the options' size, and a node that needs the file's size fails
                // with a message that says which size it was read at.
                if (expected is not null && expected[i] != size[i])
                {
                    resized = $"read at {expected[1]}x{expected[2]}, its input being [N, {FormatDims(dims)}]";
                    size[i] = expected[i];
                }
            }
            else
                size[i] = expected?[i] ?? throw Fail($"has input '{input.Name}' with a symbolic {names[i]}; give the image size in the options");
        }
        if ((long)size[0] * size[1] * size[2] > MaxInputSize)
            throw Fail($"has input '{input.Name}' of {size[0]} x {size[1]} x {size[2]} values per image, more than {MaxInputSize}");
        long? fixedBatch = dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? dims[0].DimValue : null;

        if (graph.Output.Count == 0)
            throw Fail("has no graph output");
        return new OnnxModelHeader(graph, opsets[0], input.Name, size[0], size[1], size[2], fixedBatch, initializers, resized);
    }

    private static string FormatDims(IEnumerable<TensorShapeProto.Types.Dimension> dims)
        => string.Join(", ", dims.Skip(1).Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString() : d.DimParam is { Length: > 0 } p ? p : "?"));
}
