using SkiaSharp;

namespace Microsoft.ML.Edp.Cli.Data;

/// <summary>One image of a folder data set: its path, its class (the subfolder's name), its size and whether it is
/// stored as grayscale.</summary>
public sealed record ImageFile(string Path, string Label, int Width, int Height, bool Grayscale);

/// <summary>A folder with one subfolder per class holding PNG or JPEG files, as Model Builder reads it. Every image is
/// decoded once while scanning, so an unreadable file is reported by name before any training starts.</summary>
public sealed class ImageFolderDataset
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    private ImageFolderDataset(string root, IReadOnlyList<string> classes, IReadOnlyList<ImageFile> images, IReadOnlyList<string> skipped)
        => (Root, Classes, Images, SkippedFolders) = (root, classes, images, skipped);

    /// <summary>The folder that was scanned.</summary>
    public string Root { get; }

    /// <summary>Class names (subfolder names) in ordinal order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Every image, grouped by class in <see cref="Classes"/> order, files in ordinal order.</summary>
    public IReadOnlyList<ImageFile> Images { get; }

    /// <summary>Subfolders that held no PNG or JPEG file and were left out.</summary>
    public IReadOnlyList<string> SkippedFolders { get; }

    /// <summary>Scans <paramref name="folder"/>; throws a <see cref="CliException"/> naming the folder or file when it
    /// is missing, empty, has fewer than <paramref name="minimumClasses"/> classes, or holds an unreadable image.</summary>
    public static ImageFolderDataset Scan(string folder, string role = "training", int minimumClasses = 2)
    {
        if (!Directory.Exists(folder))
            throw new CliException($"The {role} data set folder '{folder}' does not exist.");
        const string layout = "one subfolder per class, each holding PNG or JPEG files";
        var classes = new List<string>();
        var skipped = new List<string>();
        var images = new List<ImageFile>();
        var unreadable = new List<string>();
        foreach (var dir in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
        {
            var files = Directory.GetFiles(dir).Where(IsImageFile).Order(StringComparer.Ordinal).ToArray();
            string label = Path.GetFileName(dir);
            if (files.Length == 0)
            {
                skipped.Add(label);
                continue;
            }
            classes.Add(label);
            foreach (var file in files)
            {
                if (TryRead(file, out int width, out int height, out bool gray, out string? problem))
                    images.Add(new ImageFile(Path.GetFullPath(file), label, width, height, gray));
                else
                    unreadable.Add($"'{file}' ({problem})");
            }
        }

        if (unreadable.Count > 0)
            throw new CliException($"{unreadable.Count} image file(s) in the {role} data set '{folder}' could not be read as PNG or JPEG: "
                + string.Join(", ", unreadable.Take(10)) + (unreadable.Count > 10 ? $", and {unreadable.Count - 10} more" : "") + ".");
        if (classes.Count == 0)
        {
            int loose = Directory.GetFiles(folder).Count(IsImageFile);
            throw new CliException($"The {role} data set folder '{folder}' holds no images in class subfolders: expected {layout}"
                + (loose > 0 ? $"; found {loose} image(s) directly in the folder, which carry no class." : "; found none."));
        }
        if (classes.Count < minimumClasses)
            throw new CliException($"The {role} data set folder '{folder}' has {classes.Count} class ('{string.Join("', '", classes)}', {images.Count} images): "
                + $"expected at least {minimumClasses} classes, {layout}.");
        return new ImageFolderDataset(Path.GetFullPath(folder), classes, images, skipped);
    }

    private static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    private static bool TryRead(string file, out int width, out int height, out bool gray, out string? problem)
    {
        (width, height, gray, problem) = (0, 0, false, null);
        try
        {
            using var codec = SKCodec.Create(file, out var result);
            if (codec == null)
            {
                problem = $"not a PNG or JPEG image: {result}";
                return false;
            }
            (width, height, gray) = (codec.Info.Width, codec.Info.Height, codec.Info.ColorType == SKColorType.Gray8);
            // Decoding the pixels catches files whose header is fine but whose data is truncated or damaged.
            using var bitmap = new SKBitmap(codec.Info);
            var decoded = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
            if (decoded is not (SKCodecResult.Success))
            {
                problem = $"damaged image data: {decoded}";
                return false;
            }
            return width > 0 && height > 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
            return false;
        }
    }
}
