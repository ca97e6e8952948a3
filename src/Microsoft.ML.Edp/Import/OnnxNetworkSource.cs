using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>The network to compress when the options name an ONNX model (<see cref="EdpCompressOptions.OnnxModelPath"/>
/// or <see cref="EdpCompressOptions.OnnxModel"/>) instead of a built-in architecture.</summary>
internal static class OnnxNetworkSource
{
    /// <summary>True when the settings give an ONNX model to start from.</summary>
    public static bool IsGiven(NetworkSettings network) => network.OnnxModel is not null || network.OnnxModelPath is not null;

    /// <summary>Imports the model, checks its input against the settings' image size, fits its head to
    /// <paramref name="classes"/> and applies the settings' rewrite, if any.</summary>
    public static NetworkGraph Load(NetworkSettings network, int classes)
    {
        var (bytes, model, directory) = Read(network);
        var net = OnnxGraphImporter.Import(bytes, model, (network.Shape.Channels, network.Shape.Height, network.Shape.Width), directory);
        var graph = ImportedHead.Fit(net, classes, network.Compress, network.ExcludeFirstAndLast);
        return network.ImportedRewrite?.Invoke(graph) ?? graph;
    }

    /// <summary>Imports the model once when the estimator is created, so that an unreadable or unsupported model fails
    /// before any data is read; its input is checked against the image shape here when the options give all of it, and
    /// at the fit otherwise.</summary>
    public static void Validate(NetworkSettings network)
    {
        var (bytes, model, directory) = Read(network);
        OnnxGraphImporter.Import(bytes, model, network.Image is { } s ? (s.Channels, s.Height, s.Width) : null, directory);
    }

    /// <summary>The model's bytes, its name for errors, and its folder (where external data files are) when given by path.</summary>
    private static (byte[] Bytes, string Model, string? Directory) Read(NetworkSettings network)
    {
        if (network.OnnxModel is not null && network.OnnxModelPath is not null)
            throw new ArgumentException($"Give the ONNX model to start from in {nameof(EdpCompressOptions.OnnxModel)} or in {nameof(EdpCompressOptions.OnnxModelPath)}, not both; found both ('{network.OnnxModelPath}' and {network.OnnxModel.Length} bytes).", nameof(network));
        if (network.OnnxModel is { } bytes)
            return (bytes, $"given in {nameof(EdpCompressOptions.OnnxModel)} ({bytes.Length} bytes)", null);
        var path = network.OnnxModelPath!;
        if (!File.Exists(path))
            throw new FileNotFoundException($"The ONNX model '{path}' given in {nameof(EdpCompressOptions.OnnxModelPath)} does not exist.", path);
        return (File.ReadAllBytes(path), $"'{path}'", Path.GetDirectoryName(Path.GetFullPath(path)));
    }
}
