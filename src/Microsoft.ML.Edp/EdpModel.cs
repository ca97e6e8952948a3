using System.IO.Compression;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Scoring;

namespace Microsoft.ML.Edp;

/// <summary>Loading saved EDP models and reading their compression report back.</summary>
public static class EdpModel
{
    /// <summary>Registers this assembly's components (the scoring chain's custom mapping) with <paramref name="ml"/>, so
    /// that <c>ml.Model.Load</c> can read a saved EDP model. <see cref="Load"/> does it for you.</summary>
    public static void Register(MLContext ml) => ml.ComponentCatalog.RegisterAssembly(typeof(PredictedIndexMappingFactory).Assembly);

    /// <summary>Loads a model saved with <c>ml.Model.Save</c> that contains an EDP scoring chain.</summary>
    public static ITransformer Load(MLContext ml, string path, out DataViewSchema inputSchema)
    {
        Register(ml);
        return ml.Model.Load(path, out inputSchema);
    }

    /// <summary>Reads the compression report from a saved model zip (it lives in the embedded ONNX model's metadata).</summary>
    /// <exception cref="InvalidDataException">The zip holds no EDP ONNX model.</exception>
    public static EdpCompressionReport ReadReport(string modelZipPath)
    {
        using var zip = ZipFile.OpenRead(modelZipPath);
        foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel"))
        {
            using var stream = entry.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            if (ReportFromSavedOnnx(buffer.ToArray()) is { } report)
                return report;
        }
        throw new InvalidDataException($"'{modelZipPath}' holds no ONNX model with an EDP compression report ('{OnnxNames.ReportMetadataKey}' metadata).");
    }

    /// <summary>Reads the compression report from ONNX model bytes written by EDP; null when the model carries none.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model, or its report is not readable.</exception>
    public static EdpCompressionReport? ReadReport(byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        string? json;
        try { json = OnnxModelWriter.ReadMetadata(onnxModel, OnnxNames.ReportMetadataKey); }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The {onnxModel.Length} bytes given are not an ONNX model: expected a serialised ModelProto, found a protobuf error ({e.Message}).", e);
        }
        if (json is null)
            return null;
        try { return EdpCompressionReport.FromJson(json); }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            throw new InvalidDataException($"The ONNX model's '{OnnxNames.ReportMetadataKey}' metadata is not an EDP compression report: expected its JSON, found {e.Message}.", e);
        }
    }

    // ML.NET stores an OnnxTransformer's model as a length-prefixed byte array.
    private static EdpCompressionReport? ReportFromSavedOnnx(byte[] saved)
    {
        foreach (int prefix in new[] { 8, 4, 0 })
        {
            try
            {
                if (saved.Length > prefix && ReadReport(saved[prefix..]) is { } report)
                    return report;
            }
            catch (InvalidDataException) { }
        }
        return null;
    }
}
