using Microsoft.ML.Data;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>How a network made for colour images wants its pixels: value x Scale[c] + Shift[c] on channel c, the
/// value in [0, 1].</summary>
public sealed record PixelEncoding(float[] Scale, float[] Shift)
{
    /// <summary>ML.NET's ResNet18 featurizer: pixels in [0, 255] less its mean, 114, on every channel.</summary>
    public static readonly PixelEncoding ResNet18Featurizer = new([255f, 255f, 255f], [-114f, -114f, -114f]);

    /// <summary>torchvision's models: (x - mean) / std with ImageNet's RGB means and deviations.</summary>
    public static readonly PixelEncoding ImageNet = new(
        [1 / 0.229f, 1 / 0.224f, 1 / 0.225f], [-0.485f / 0.229f, -0.456f / 0.224f, -0.406f / 0.225f]);

    /// <summary>The picture as 3 x size x size values (<see cref="FashionMnistImage.ToRgb"/>) in this encoding.</summary>
    public float[] Encode(FashionMnistImage image, int size)
    {
        var pixels = image.ToRgb(size);
        int plane = size * size;
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = pixels[i] * Scale[i / plane] + Shift[i / plane];
        return pixels;
    }
}

/// <summary>Fashion-MNIST as a data view of 3-channel images for a network of that input: a Features vector of
/// 3 x size x size values and the Label, resized lazily as a fit reads them, so that large copies of the data are never
/// all held.</summary>
public static class RgbImages
{
    public static IDataView Load(MLContext ml, IEnumerable<FashionMnistImage> images, int size, PixelEncoding encoding)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3 * size * size);
        return ml.Data.LoadFromEnumerable(images.Select(i => new Row { Features = encoding.Encode(i, size), Label = i.Label }), schema);
    }

    private sealed class Row
    {
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }
}
