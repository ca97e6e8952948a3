using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Edp.Import;

/// <summary>Initializers whose bytes an exporter wrote to files beside the model (ONNX external data, used by large
/// models and by <c>onnx.save(..., save_as_external_data=True)</c>). Only files inside the model's folder are read.</summary>
internal static class OnnxExternalData
{
    /// <summary>The tensor with its external bytes read into raw_data, or the tensor itself when it has none.
    /// <paramref name="directory"/> is the model's folder, or null when the model was given as bytes.</summary>
    public static TensorProto Load(TensorProto t, string? directory, Func<string, Exception> fail)
    {
        if (t.DataLocation != TensorProto.Types.DataLocation.External && t.ExternalData.Count == 0)
            return t;
        if (directory is null)
            throw fail($"tensor '{t.Name}' keeps its data in an external file, which can be read only when the model is given by its path (OnnxModelPath)");
        var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!entries.TryGetValue("location", out var location) || location.Length == 0)
            throw fail($"tensor '{t.Name}' keeps its data in an external file but names no location");
        var root = Path.GetFullPath(directory);
        var path = Path.GetFullPath(Path.Combine(root, location));
        if (Path.IsPathRooted(location) || !path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw fail($"tensor '{t.Name}' keeps its data in '{location}', outside the model's folder; only files beside the model are read");
        if (!File.Exists(path))
            throw fail($"tensor '{t.Name}' keeps its data in '{location}', which does not exist beside the model");
        long offset = Number(t, entries, "offset", 0, fail);
        using var file = File.OpenRead(path);
        long length = Number(t, entries, "length", file.Length - offset, fail);
        if (offset < 0 || length < 0 || offset > file.Length || length > file.Length - offset || length > int.MaxValue)
            throw fail($"tensor '{t.Name}' reads {length} bytes at offset {offset} of '{location}', which holds {file.Length} bytes");
        var bytes = new byte[length];
        file.Position = offset;
        file.ReadExactly(bytes);
        var loaded = t.Clone();
        loaded.ExternalData.Clear();
        loaded.DataLocation = TensorProto.Types.DataLocation.Default;
        loaded.RawData = ByteString.CopyFrom(bytes);
        return loaded;
    }

    private static long Number(TensorProto t, Dictionary<string, string> entries, string key, long fallback, Func<string, Exception> fail)
        => !entries.TryGetValue(key, out var text) ? fallback
            : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) ? v
            : throw fail($"tensor '{t.Name}' has external data {key} '{text}'; a whole number of bytes is expected");
}
