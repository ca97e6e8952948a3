namespace Microsoft.ML.Edp.Network;

/// <summary>One conv + BN + ReLU layer of a VGG-style net, named stably for logs, the report and the ONNX graph;
/// <c>Compressed</c> says whether it trains as a compressed-aware block, <c>PoolAfter</c> whether a 2x2 max pool follows.</summary>
internal sealed record ConvLayerSpec(string Name, int InChannels, int OutChannels, int Kernel, int Stride, int Padding, bool Compressed, bool PoolAfter);

/// <summary>The shape of a VGG-style classifier: conv layers, then global average pooling, then a linear classifier.</summary>
internal sealed record NetworkSpec(int InChannels, int Height, int Width, IReadOnlyList<ConvLayerSpec> Convs, int Classes, bool CompressedClassifier)
{
    public const string ClassifierName = "classifier";

    /// <summary>Output pixels (height x width) of each conv, in order: the one place spatial sizes are worked out.</summary>
    public long[] ConvOutputPixels()
    {
        long h = Height, w = Width;
        var pixels = new long[Convs.Count];
        for (int i = 0; i < Convs.Count; i++)
        {
            var c = Convs[i];
            h = (h + 2 * c.Padding - c.Kernel) / c.Stride + 1;
            w = (w + 2 * c.Padding - c.Kernel) / c.Stride + 1;
            pixels[i] = h * w;
            if (c.PoolAfter)
                (h, w) = (h / 2, w / 2);
        }
        return pixels;
    }

    public static readonly int[] VggSmallWidths = [16, 16, 32, 32, 64, 64];
    public static readonly int[] VggMediumWidths = [32, 32, 64, 64, 128, 128];

    /// <summary>Builds the layer list: convs in pairs, a max pool after each pair but the last.</summary>
    public static NetworkSpec Vgg(EdpCompressOptions options, int classes)
    {
        int[] widths = options.Architecture switch
        {
            EdpArchitecture.VggSmall => VggSmallWidths,
            EdpArchitecture.VggMedium => VggMediumWidths,
            _ => options.ConvWidths is { Length: > 0 } w ? w
                : throw new ArgumentException($"{nameof(EdpCompressOptions.ConvWidths)} must list at least one conv width for {EdpArchitecture.CustomVgg}.", nameof(options)),
        };
        var convs = new List<ConvLayerSpec>();
        int inChannels = options.ImageChannels;
        int lastPair = (widths.Length - 1) / 2;
        for (int i = 0; i < widths.Length; i++)
        {
            bool compressed = options.Compress && !(options.ExcludeFirstAndLast && i == 0);
            bool poolAfter = i % 2 == 1 && i / 2 < lastPair;
            convs.Add(new ConvLayerSpec($"conv{i + 1}", inChannels, widths[i], 3, 1, 1, compressed, poolAfter));
            inChannels = widths[i];
        }
        return new NetworkSpec(options.ImageChannels, options.ImageHeight, options.ImageWidth, convs, classes,
            options.Compress && !options.ExcludeFirstAndLast);
    }
}
