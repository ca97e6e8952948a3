using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>The network to compress when the options name an ONNX model (<see cref="EdpCompressOptions.OnnxModelPath"/>
/// or <see cref="EdpCompressOptions.OnnxModel"/>) instead of a built-in architecture.</summary>
internal static class OnnxNetworkSource
{
    /// <summary>True when the options give an ONNX model to start from.</summary>
    public static bool IsGiven(EdpCompressOptions options) => options.OnnxModel is not null || options.OnnxModelPath is not null;

    /// <summary>Imports the model, checks its input against the options' image size and fits its head to <paramref name="classes"/>.</summary>
    public static NetworkGraph Load(EdpCompressOptions options, int classes)
    {
        var (bytes, model) = Read(options);
        var net = OnnxGraphImporter.Import(bytes, model, (options.ImageChannels, options.ImageHeight, options.ImageWidth));
        return ImportedHead.Fit(net, classes, options.Compress, options.ExcludeFirstAndLast);
    }

    /// <summary>Imports the model once when the estimator is created, so that an unreadable or unsupported model fails
    /// before any data is read.</summary>
    public static void Validate(EdpCompressOptions options)
    {
        var (bytes, model) = Read(options);
        OnnxGraphImporter.Import(bytes, model, (options.ImageChannels, options.ImageHeight, options.ImageWidth));
    }

    private static (byte[] Bytes, string Model) Read(EdpCompressOptions options)
    {
        if (options.OnnxModel is not null && options.OnnxModelPath is not null)
            throw new ArgumentException($"Give the ONNX model to start from in {nameof(EdpCompressOptions.OnnxModel)} or in {nameof(EdpCompressOptions.OnnxModelPath)}, not both; found both ('{options.OnnxModelPath}' and {options.OnnxModel.Length} bytes).", nameof(options));
        if (options.OnnxModel is { } bytes)
            return (bytes, $"given in {nameof(EdpCompressOptions.OnnxModel)} ({bytes.Length} bytes)");
        var path = options.OnnxModelPath!;
        if (!File.Exists(path))
            throw new FileNotFoundException($"The ONNX model '{path}' given in {nameof(EdpCompressOptions.OnnxModelPath)} does not exist.", path);
        return (File.ReadAllBytes(path), $"'{path}'");
    }
}
