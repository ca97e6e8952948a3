using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Samples;

/// <summary>One Fashion-MNIST image: 784 pixels scaled to [0, 1] and the class name.</summary>
public sealed class FashionMnistImage
{
    /// <summary>The pixels, row-major 1x28x28, scaled to [0, 1].</summary>
    [VectorType(PixelCount)]
    public float[] Features { get; set; } = [];

    /// <summary>The class name, e.g. "Sneaker".</summary>
    public string Label { get; set; } = "";

    /// <summary>Pixels per image.</summary>
    public const int PixelCount = 28 * 28;

    /// <summary>The picture as a 3-channel <paramref name="size"/> x <paramref name="size"/> image, for networks made
    /// for colour images: resized bilinearly (pixel centres aligned, as PyTorch's interpolate without align_corners)
    /// and repeated over the channels; row-major CHW, values in [0, 1].</summary>
    public float[] ToRgb(int size)
    {
        const int side = 28;
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The image side must be at least 1; found {size}.");
        var plane = new float[size * size];
        float scale = (float)side / size;
        for (int y = 0; y < size; y++)
        {
            float sy = Math.Clamp((y + 0.5f) * scale - 0.5f, 0, side - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, side - 1);
            float wy = sy - y0;
            for (int x = 0; x < size; x++)
            {
                float sx = Math.Clamp((x + 0.5f) * scale - 0.5f, 0, side - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, side - 1);
                float wx = sx - x0;
                float top = Features[y0 * side + x0] * (1 - wx) + Features[y0 * side + x1] * wx;
                float bottom = Features[y1 * side + x0] * (1 - wx) + Features[y1 * side + x1] * wx;
                plane[y * size + x] = top * (1 - wy) + bottom * wy;
            }
        }
        var rgb = new float[3 * size * size];
        for (int channel = 0; channel < 3; channel++)
            plane.CopyTo(rgb, channel * plane.Length);
        return rgb;
    }
}

/// <summary>Loads Fashion-MNIST from its gzipped IDX files.</summary>
public static class FashionMnist
{
    /// <summary>Class names in label order.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the full data set.</summary>
    public const string DebianPackageDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The embedded subset (3,000 training and 1,000 test images), copied beside every program that references
    /// this project.</summary>
    public static string SubsetDirectory => Path.Combine(AppContext.BaseDirectory, "data");

    /// <summary>The full data set when the Debian package is installed, else the embedded subset.</summary>
    public static string DefaultDirectory => Directory.Exists(DebianPackageDirectory) ? DebianPackageDirectory : SubsetDirectory;

    /// <summary>Reads the <c>train</c> or <c>t10k</c> split from a folder of IDX files.</summary>
    /// <param name="directory">A folder holding <c>{split}-images-idx3-ubyte[.gz]</c> and <c>{split}-labels-idx1-ubyte[.gz]</c>.</param>
    /// <param name="split"><c>train</c> or <c>t10k</c>.</param>
    /// <param name="maxCount">Keep at most this many images, in file order.</param>
    public static IReadOnlyList<FashionMnistImage> Load(string directory, string split, int maxCount = int.MaxValue)
    {
        var (imageDims, pixels) = IdxReader.Read(Find(directory, $"{split}-images-idx3-ubyte"));
        var (labelDims, labels) = IdxReader.Read(Find(directory, $"{split}-labels-idx1-ubyte"));
        if (imageDims.Length != 3 || imageDims[1] * imageDims[2] != FashionMnistImage.PixelCount)
            throw new InvalidDataException($"Fashion-MNIST images in '{directory}' must be N x 28 x 28; found {string.Join(" x ", imageDims)}.");
        if (labelDims.Length != 1 || labelDims[0] != imageDims[0])
            throw new InvalidDataException($"Fashion-MNIST in '{directory}' has {imageDims[0]} images but {string.Join(" x ", labelDims)} labels.");

        int count = Math.Min(maxCount, imageDims[0]);
        var images = new FashionMnistImage[count];
        for (int i = 0; i < count; i++)
        {
            if (labels[i] >= ClassNames.Count)
                throw new InvalidDataException($"Fashion-MNIST label {labels[i]} at index {i} in '{directory}' is out of range 0..{ClassNames.Count - 1}.");
            var features = new float[FashionMnistImage.PixelCount];
            for (int p = 0; p < features.Length; p++)
                features[p] = pixels[i * FashionMnistImage.PixelCount + p] / 255f;
            images[i] = new FashionMnistImage { Features = features, Label = ClassNames[labels[i]] };
        }
        return images;
    }

    private static string Find(string directory, string stem)
    {
        foreach (var candidate in new[] { stem + ".gz", stem })
        {
            var path = Path.Combine(directory, candidate);
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException($"No '{stem}.gz' or '{stem}' in '{directory}'.", Path.Combine(directory, stem + ".gz"));
    }
}
