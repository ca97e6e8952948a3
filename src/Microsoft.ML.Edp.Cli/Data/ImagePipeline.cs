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

/// <summary>ML.NET's own image transforms in front of the EDP network: load, resize, optionally convert to grayscale,
/// extract planar (CHW) pixels scaled to [0, 1] as the network was trained on, and map the label to a key in sorted class-name order. The saved
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

    /// <summary>The preprocessing estimator for <paramref name="shape"/>.</summary>
    public static IEstimator<ITransformer> Preprocessing(MLContext ml, ImageShape shape)
    {
        IEstimator<ITransformer> chain = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, ImagePathColumn)
            .Append(ml.Transforms.ResizeImages(ImageColumn, shape.Width, shape.Height, ImageColumn, ImageResizingEstimator.ResizingKind.Fill));
        if (shape.Channels == 1)
            chain = chain.Append(ml.Transforms.ConvertToGrayscale(ImageColumn));
        var colors = shape.Channels == 1 ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb;
        // Planar (not interleaved) pixels scaled by 1/255 give the row-major CHW floats in [0, 1] that EDP trains on.
        return chain
            .Append(ml.Transforms.ExtractPixels(FeaturesColumn, ImageColumn, colors, ImagePixelExtractingEstimator.ColorsOrder.ARGB,
                interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f / 255f, outputAsFloatArray: true))
            .Append(ml.Transforms.Conversion.MapValueToKey(LabelColumn, keyOrdinality: Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue));
    }

    /// <summary>The rows for <paramref name="images"/>.</summary>
    public static IDataView Rows(MLContext ml, IEnumerable<ImageFile> images)
        => ml.Data.LoadFromEnumerable(images.Select(i => new ImageRow { ImagePath = i.Path, Label = i.Label }).ToArray());
}
