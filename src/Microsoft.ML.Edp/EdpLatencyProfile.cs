using System.Text;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp;

/// <summary>Measures a latency table on the machine a model will be scored on, for
/// <see cref="EdpCompressOptions.LatencyTablePath"/> on the machine that trains it.</summary>
public static class EdpLatencyProfile
{
    /// <summary>Times every layer of the network that <paramref name="options"/> describes (the architecture or ONNX model,
    /// the image shape, which must be given, <see cref="EdpCompressOptions.Compress"/> and <see cref="EdpCompressOptions.ExcludeFirstAndLast"/>)
    /// with <paramref name="classes"/> classes, in ONNX Runtime on this machine, at
    /// <see cref="EdpCompressOptions.LatencyBatchSize"/>, 1 and 64, and writes the table to <paramref name="path"/>
    /// (replacing it whole). Returns a one-line summary naming the machine.</summary>
    public static string Write(EdpCompressOptions options, int classes, string path, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        EdpOptionsValidation.Validate(options);
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes must be at least 2; found {classes}.");
        var image = InputImageShape.Given(options) ?? throw new ArgumentException(
            $"A latency profile has no data to infer the image shape from: expected {nameof(EdpCompressOptions.ImageChannels)}, {nameof(EdpCompressOptions.ImageHeight)} and {nameof(EdpCompressOptions.ImageWidth)} all set, found {options.ImageChannels?.ToString() ?? "null"}, {options.ImageHeight?.ToString() ?? "null"} and {options.ImageWidth?.ToString() ?? "null"}.", nameof(options));
        var settings = EdpSettings.From(options).WithImage(image);
        var graph = settings.Graph(classes);
        var hardware = Hardware.Current;
        var table = LatencyProfiler.Measure(graph, settings.Latency.Batches, hardware, log ?? (_ => { }));
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        AtomicFile.Write(path, Encoding.UTF8.GetBytes(table.ToJson()));
        return $"Wrote the latency table of {table.Layers.Length} layers ({table.Layers.Sum(l => l.Points.Length)} shapes, batch {string.Join(", ", table.Batches)}) measured on {hardware} to '{path}'.";
    }
}
