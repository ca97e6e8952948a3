using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Edp.Cli.Data;

/// <summary>A row the saved model takes: the image file's path and its class (empty when unknown, as for prediction).</summary>
public sealed class ImageRow
{
    /// <summary>Path of a PNG or JPEG file.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>The class name; empty when predicting.</summary>
    public string Label { get; set; } = "";
}

/// <summary>The image shape the network sees.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">1 (grayscale) or 3 (RGB).</param>
public sealed record ImageShape(int Width, int Height, int Channels)
{
    /// <summary>Parses "28x28".</summary>
    public static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w >= 8 && h >= 8 && w <= 1024 && h <= 1024)
            return (w, h);
        throw new CliException($"--image-size '{text}' is not WIDTHxHEIGHT with both sides between 8 and 1024, e.g. 28x28 or 32x32.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{Height}x{Width} ({(Channels == 1 ? "grayscale" : "RGB")})";
}

/// <summary>How pixels become the network's input values: colour planes in RGB or BGR order, each value (in [0, 255])
/// less <paramref name="Offset"/>, times <paramref name="Scale"/>.</summary>
/// <param name="Bgr">Blue, green, red planes (as networks trained with OpenCV or CNTK expect) rather than red, green, blue.</param>
/// <param name="Offset">Subtracted from every value in [0, 255].</param>
/// <param name="Scale">Multiplies the offset value.</param>
public sealed record PixelEncoding(bool Bgr, float Offset, float Scale)
{
    /// <summary>RGB in [0, 1]: what the built-in networks train on.</summary>
    public static readonly PixelEncoding Unit = new(Bgr: false, Offset: 0f, Scale: 1f / 255f);

    /// <inheritdoc />
    public override string ToString() => this == Unit ? "pixels in [0, 1]"
        : FormattableString.Invariant($"{(Bgr ? "BGR" : "RGB")} pixels in [0, 255]{(Offset != 0 ? $" less {Offset}" : "")}{(Scale != 1 ? $" times {Scale}" : "")}");
}

/// <summary>ML.NET's own image transforms in front of the EDP network: load, resize, optionally convert to grayscale,
/// extract planar (CHW) pixels encoded as the network was trained on (<see cref="PixelEncoding"/>), and map the label to a key in sorted class-name order. The saved
/// model holds these steps, so it takes an image path as Model Builder's models do.</summary>
public static class ImagePipeline
{
    /// <summary>The input column holding the image file's path.</summary>
    public const string ImagePathColumn = nameof(ImageRow.ImagePath);
    /// <summary>The label column (class name text, mapped to a key).</summary>
    public const string LabelColumn = nameof(ImageRow.Label);
    /// <summary>The loaded image column.</summary>
    public const string ImageColumn = "Image";
    /// <summary>The pixel column the network reads.</summary>
    public const string FeaturesColumn = "Features";

    /// <summary>The preprocessing estimator for <paramref name="shape"/>, encoding pixels as <paramref name="pixels"/>
    /// (default <see cref="PixelEncoding.Unit"/>).</summary>
    public static IEstimator<ITransformer> Preprocessing(MLContext ml, ImageShape shape, PixelEncoding? pixels = null)
    {
        pixels ??= PixelEncoding.Unit;
        IEstimator<ITransformer> chain = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, ImagePathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, shape.Width, shape.Height, ImageColumn, ImageResizingEstimator.ResizingKind.Fill));
        if (shape.Channels == 1)
            chain = chain.Append(ml.Transforms.ConvertToGrayscale(ImageColumn));
        var colors = shape.Channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb;
        // Planar (not interleaved) pixels give the row-major CHW floats the network reads; with one channel, the red
        // plane of the grayscale image. A grayscale file read as RGB has three equal planes.
        var order = pixels.Bgr ? ImagePixelExtractingEstimator.ColorsOrder.ABGR : ImagePixelExtractingEstimator.ColorsOrder.ARGB;
        return chain
            .Append(ml.Transforms.ExtractPixels(FeaturesColumn, ImageColumn, colors, order,
                interleavePixelColors: false, offsetImage: pixels.Offset, scaleImage: pixels.Scale, outputAsFloatArray: true))
            .Append(ml.Transforms.Conversion.MapValueToKey(LabelColumn, keyOrdinality: Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue));
    }

    /// <summary>The rows for <paramref name="images"/>.</summary>
    public static IDataView Rows(MLContext ml, IEnumerable<ImageFile> images)
        => ml.Data.LoadFromEnumerable(images.Select(i => new ImageRow { ImagePath = i.Path, Label = i.Label }).ToArray());
}
