using Microsoft.ML.Edp.Samples;
using SkiaSharp;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>Writes real PNG class folders from the embedded Fashion-MNIST subset (examples/Shared/data).</summary>
internal static class ImageFolders
{
        private static readonly Lazy<IReadOnlyList<FashionMnistImage>> Train = new(() => FashionMnist.Load(FashionMnist.SubsetDirectory, "train"));
    private static readonly Lazy<IReadOnlyList<FashionMnistImage>> Test = new(() => FashionMnist.Load(FashionMnist.SubsetDirectory, "t10k"));

    /// <summary>A fresh temporary folder.</summary>
    public static string NewTemp(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"edp-cli-tests-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Writes the first <paramref name="perClass"/> images of each class into <paramref name="folder"/>/&lt;class&gt;/NNNN.png
    /// (every <paramref name="jpegEvery"/>-th one as NNNN.jpg);
    /// the class folder names replace '/' (as in "T-shirt/top") with '-'.</summary>
    public static void Write(string folder, bool test, int perClass, Func<int, int>? sizeOf = null, int? classLimit = null, int? jpegEvery = null)
    {
        var images = test ? Test.Value : Train.Value;
        var written = new Dictionary<string, int>();
        foreach (var image in images)
        {
            string label = FolderName(image.Label);
            if (classLimit is { } limit && !written.ContainsKey(label) && written.Count >= limit)
                continue;
            int n = written.GetValueOrDefault(label);
            if (n >= perClass)
                continue;
            written[label] = n + 1;
            string dir = Path.Combine(folder, label);
            Directory.CreateDirectory(dir);
            if (jpegEvery is { } every && n % every == every - 1)
                WriteImage(Path.Combine(dir, $"{n:D4}.jpg"), image.Features, sizeOf?.Invoke(n) ?? 28, SKEncodedImageFormat.Jpeg);
            else
                WritePng(Path.Combine(dir, $"{n:D4}.png"), image.Features, sizeOf?.Invoke(n) ?? 28);
        }
    }

    /// <summary>The class folder name of a Fashion-MNIST label.</summary>
    public static string FolderName(string label) => label.Replace('/', '-');

    /// <summary>A 28x28 grayscale image as PNG, scaled to <paramref name="size"/> when it differs.</summary>
    public static void WritePng(string path, float[] pixels, int size = 28) => WriteImage(path, pixels, size, SKEncodedImageFormat.Png);

    /// <summary>A 28x28 grayscale image as PNG or JPEG (quality 95), scaled to <paramref name="size"/> when it differs.</summary>
    public static void WriteImage(string path, float[] pixels, int size, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        var bytes = pixels.Select(p => (byte)Math.Round(p * 255)).ToArray();
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        using var scaled = size == 28 ? bitmap.Copy() : bitmap.Resize(new SKImageInfo(size, size, SKColorType.Gray8, SKAlphaType.Opaque), SKFilterQuality.Medium);
        using var data = scaled.Encode(format, format == SKEncodedImageFormat.Png ? 100 : 95);
        File.WriteAllBytes(path, data.ToArray());
    }
}
