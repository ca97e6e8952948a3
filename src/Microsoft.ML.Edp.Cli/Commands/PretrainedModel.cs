using Microsoft.ML.Edp.Cli.Data;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>A pretrained ONNX backbone that <c>--pretrained NAME</c> finds in the NuGet global packages folder, where
/// restoring its package puts it, with the input it was trained on.</summary>
/// <param name="Name">The name <c>--pretrained</c> takes.</param>
/// <param name="PackageId">The NuGet package that carries the model.</param>
/// <param name="ModelPath">The model's path inside the package folder.</param>
/// <param name="DefaultSize">The image side used when <c>--image-size</c> is not given: small enough to fine-tune on a CPU.</param>
/// <param name="Pixels">How the backbone's training images were encoded.</param>
internal sealed record PretrainedModel(string Name, string PackageId, string ModelPath, int DefaultSize, PixelEncoding Pixels)
{
    /// <summary>The models <c>--pretrained</c> knows.</summary>
    public static readonly IReadOnlyList<PretrainedModel> Known =
    [
        // ML.NET's ResNet18 featurizer (ImageNet, 224x224): its ResNetPreprocess.onnx turns RGB pixels in [0, 255] into
        // BGR and subtracts a mean image whose average is 114 (103, 116 and 123 for B, G and R). ExtractPixels takes one
        // offset for all channels, so the average is subtracted: at most 11 units off a channel's mean, which fine-tuning absorbs.
        new("resnet18", "Microsoft.ML.DnnImageFeaturizer.ResNet18", "tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx", 64,
            new PixelEncoding(Bgr: true, Offset: 114f, Scale: 1f)),
    ];

    /// <summary>The known model called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static PretrainedModel? Find(string name) => Known.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The error for a name <see cref="Find"/> does not know, listing the known ones.</summary>
    public static string Unknown(string name) => $"--pretrained '{name}' is not a known model; known: {string.Join(", ", Known.Select(m => m.Name))}.";

    /// <summary>The model file in the newest version of <see cref="PackageId"/> in the global packages folder, or an error
    /// naming the package and how to get it.</summary>
    public string Resolve()
    {
        string packages = GlobalPackagesFolder();
        // NuGet stores a package under its lower-cased id, one folder per version.
        string package = Path.Combine(packages, PackageId.ToLowerInvariant());
        var newest = (Directory.Exists(package) ? Directory.GetDirectories(package) : [])
            .Select(dir => (Version: NuGetVersion.TryParse(Path.GetFileName(dir)), File: Path.Combine(dir, ModelPath)))
            .Where(v => v.Version is not null && File.Exists(v.File))
            .OrderByDescending(v => v.Version)
            .FirstOrDefault();
        return newest.File ?? throw new CliException(
            $"--pretrained {Name}: the package {PackageId} is not in the NuGet global packages folder '{packages}' (expected {ModelPath} "
            + $"in one of its versions). Add and restore it in any project, e.g. 'dotnet add package {PackageId}' then 'dotnet restore', "
            + "or give the model file with --from-onnx. If your packages folder is elsewhere, set NUGET_PACKAGES to it.");
    }

    /// <summary>NuGet's global packages folder: <c>NUGET_PACKAGES</c> when set, else <c>.nuget/packages</c> in the user's
    /// home, as NuGet resolves it (a <c>globalPackagesFolder</c> set in a NuGet.config is not read: NUGET_PACKAGES covers it).</summary>
    private static string GlobalPackagesFolder()
        => Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? Path.GetFullPath(folder)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The order of NuGet's version folders: numeric parts, then a release above its prereleases.</summary>
    private sealed record NuGetVersion(Version Numbers, string Prerelease) : IComparable<NuGetVersion>
    {
        public static NuGetVersion? TryParse(string text)
        {
            int dash = text.IndexOf('-', StringComparison.Ordinal);
            string numbers = dash < 0 ? text : text[..dash];
            return Version.TryParse(numbers, out var v) ? new NuGetVersion(v, dash < 0 ? "" : text[(dash + 1)..]) : null;
        }

        public int CompareTo(NuGetVersion? other)
        {
            if (other is null)
                return 1;
            int c = Numbers.CompareTo(other.Numbers);
            if (c != 0)
                return c;
            if (Prerelease.Length == 0)
                return other.Prerelease.Length == 0 ? 0 : 1;
            return other.Prerelease.Length == 0 ? -1 : string.CompareOrdinal(Prerelease, other.Prerelease);
        }
    }
}
