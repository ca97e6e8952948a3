using System.Runtime.InteropServices;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Cli.Data;
using Microsoft.ML.Edp.Samples;
using SkiaSharp;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>ML.NET's image transforms, as the tool sets them up, give the pixels EDP trains on: row-major CHW floats in
/// [0, 1], the same values as the IDX loader for a Fashion-MNIST image written to PNG.</summary>
public sealed class ImagePipelineTests : IDisposable
{
    private readonly string _root = ImageFolders.NewTemp("pipeline");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void AGrayscalePngGivesTheIdxLoadersPixels()
    {
        var images = FashionMnist.Load(FashionMnist.SubsetDirectory, "t10k", maxCount: 5);
        var paths = images.Select((image, i) =>
        {
            string path = Path.Combine(_root, $"{i}.png");
            ImageFolders.WritePng(path, image.Features);
            return path;
        }).ToArray();

        var features = Features(new ImageShape(28, 28, 1), paths);
        for (int i = 0; i < images.Count; i++)
        {
            Assert.Equal(FashionMnistImage.PixelCount, features[i].Length);
            for (int p = 0; p < features[i].Length; p++)
                Assert.Equal(images[i].Features[p], features[i][p], 0.5f / 255);
        }
    }

    [Fact]
    public void AnRgbImageGivesPlanarRedGreenBlueScaledToOne()
    {
        var pixels = Features(new ImageShape(2, 1, 3), [TwoPixelRgbPng()]).Single();
        // R plane, then G plane, then B plane, each row-major.
        Assert.Equal([1f, 0f, 0f, 0.4f, 0.2f, 0.8f], pixels.Select(v => MathF.Round(v, 4)).ToArray());
    }

    [Fact]
    public void BgrPixelsLessAnOffsetKeepTheirRangeInBlueGreenRedOrder()
    {
        var pixels = Features(new ImageShape(2, 1, 3), [TwoPixelRgbPng()], new PixelEncoding(Bgr: true, Offset: 100f, Scale: 1f)).Single();
        // B plane, then G plane, then R plane, each value in [0, 255] less 100.
        Assert.Equal([-49f, 104f, -100f, 2f, 155f, -100f], pixels.Select(v => MathF.Round(v, 3)).ToArray());
    }

    /// <summary>A grayscale file given to a 3-channel network (a pretrained backbone) is read as three equal planes.</summary>
    [Fact]
    public void AGrayscalePngReadAsRgbRepeatsItsPixelsOverThreePlanes()
    {
        var image = FashionMnist.Load(FashionMnist.SubsetDirectory, "t10k", maxCount: 1).Single();
        string path = Path.Combine(_root, "gray.png");
        ImageFolders.WritePng(path, image.Features);

        var pixels = Features(new ImageShape(28, 28, 3), [path]).Single();
        Assert.Equal(3 * FashionMnistImage.PixelCount, pixels.Length);
        for (int plane = 0; plane < 3; plane++)
            for (int p = 0; p < FashionMnistImage.PixelCount; p++)
                Assert.Equal(image.Features[p], pixels[plane * FashionMnistImage.PixelCount + p], 0.5f / 255);
    }

    /// <summary>A 2x1 PNG: (255, 0, 51) then (0, 102, 204) as red, green, blue.</summary>
    private string TwoPixelRgbPng()
    {
        string path = Path.Combine(_root, "rgb.png");
        using var bitmap = new SKBitmap(new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.SetPixel(0, 0, new SKColor(255, 0, 51));
        bitmap.SetPixel(1, 0, new SKColor(0, 102, 204));
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
        return path;
    }

    private static float[][] Features(ImageShape shape, string[] paths, PixelEncoding? encoding = null)
    {
        var ml = new MLContext(1);
        var rows = ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p, Label = "x" }).ToArray());
        var data = ImagePipeline.Preprocessing(ml, shape, encoding).Fit(rows).Transform(rows);
        var result = new List<float[]>();
        using var cursor = data.GetRowCursor([data.Schema[ImagePipeline.FeaturesColumn]]);
        var getter = cursor.GetGetter<VBuffer<float>>(data.Schema[ImagePipeline.FeaturesColumn]);
        VBuffer<float> buffer = default;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result.ToArray();
    }
}
