using System.Reflection;
using Microsoft.ML.Edp.Cli.Reporting;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary><c>edp compress --pretrained resnet18</c> and <c>edp profile --pretrained resnet18</c> find ML.NET's ResNet18
/// in the NuGet global packages folder (NUGET_PACKAGES, else the user's .nuget/packages), or name the package to add and
/// write nothing.</summary>
public sealed class PretrainedTests : IDisposable
{
    private const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    private readonly string _root = ImageFolders.NewTemp("pretrained");

    private string Data => Path.Combine(_root, "data");
    private string Output => Path.Combine(_root, "out");

    /// <summary>The package folder restore used for this test project (…/microsoft.ml.dnnimagefeaturizer.resnet18/VERSION).</summary>
    private static string RestoredPackage => typeof(PretrainedTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ResNet18Package").Value!;

    public PretrainedTests() => ImageFolders.Write(Data, test: false, perClass: 8, classLimit: 3);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Grayscale PNGs are read as RGB at the default 64x64, the model comes from the packages folder restore
    /// filled (named by NUGET_PACKAGES, so that a machine whose NuGet.config moves the folder passes too), and one short
    /// epoch fine-tunes and compresses it into a full output folder.</summary>
    [Fact]
    public void ResNet18IsFoundInThePackagesFolderAndCompressesGrayscaleImages()
    {
        string packages = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(RestoredPackage))!)!;
        var (code, output) = WithPackagesFolder(packages, () => Compress("--pretrained", "resnet18",
            "--epochs", "1", "--batch-size", "8", "--threads", "2", "--validation-fraction", "0.25", "--channel-multiple", "8"));
        Assert.True(code == 0, output);

        Assert.Contains($"Starting from resnet18 (package {PackageId}): '{Path.Combine(packages, PackageId.ToLowerInvariant())}", output);
        Assert.Contains("network input 3x64x64 (RGB), BGR pixels in [0, 255] less 114.", output);
        var report = RunReport.FromJson(File.ReadAllText(Path.Combine(Output, "report.json")), "report.json");
        Assert.Equal((64, 64, 3), (report.Dataset!.Width, report.Dataset.Height, report.Dataset.Channels));
        Assert.Equal(3, report.Dataset.Classes.Length);
        // The default budget keeps about half of the backbone's MACs.
        Assert.InRange(report.Compression.MacsRatio, 0.3, 0.6);
        Assert.True(new FileInfo(Path.Combine(Output, "model.onnx")).Length > 0);

        var (predictCode, prediction) = CliRunner.Run("predict", "--model", Path.Combine(Output, "model.zip"),
            Directory.GetFiles(Data, "*.png", SearchOption.AllDirectories)[0]);
        Assert.True(predictCode == 0, prediction);
    }

    [Fact]
    public void AMissingPackageIsNamedWithTheCommandToAddItAndNothingIsWritten()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_root, "packages")).FullName;
        var (code, output) = WithPackagesFolder(empty, () => Compress("--pretrained", "resnet18"));
        AssertRejected(code, output, $"--pretrained resnet18: the package {PackageId} is not in the NuGet global packages folder '{empty}'");
        Assert.Contains($"dotnet add package {PackageId}", output.ReplaceLineEndings(" "));
        Assert.Empty(Directory.GetFileSystemEntries(empty));
    }

    /// <summary>The newest version holding the model is taken (a release above its prerelease, a version folder without
    /// the model skipped); a file the importer refuses is named under --pretrained.</summary>
    [Fact]
    public void TheNewestVersionHoldingTheModelIsTaken()
    {
        string packages = Path.Combine(_root, "packages");
        string package = Path.Combine(packages, PackageId.ToLowerInvariant());
        foreach (var version in new[] { "0.9.0", "0.23.1-preview", "0.23.1", "0.100.0-beta" })
        {
            string model = Path.Combine(package, version, "tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
            Directory.CreateDirectory(Path.GetDirectoryName(model)!);
            if (version != "0.100.0-beta")
                File.WriteAllText(model, $"not an ONNX model ({version})");
        }
        var (code, output) = WithPackagesFolder(packages, () => Compress("--pretrained", "resnet18", "--epochs", "1"));
        AssertRejected(code, output, "--pretrained resnet18: ONNX model");
        Assert.Contains($"Starting from resnet18 (package {PackageId}): '{Path.Combine(package, "0.23.1", "tools")}", output);
    }

    [Fact]
    public void PretrainedWithFromOnnxAnUnknownNameOrGrayscaleIsRefused()
    {
        string model = Path.Combine(_root, "model.onnx");
        File.WriteAllText(model, "");
        var (code, output) = Compress("--pretrained", "resnet18", "--from-onnx", model);
        AssertRejected(code, output, "--pretrained and --from-onnx both name the model to start from; give one of them.");
        (code, output) = Compress("--pretrained", "vgg16");
        AssertRejected(code, output, "--pretrained 'vgg16' is not a known model; known: resnet18.");
        (code, output) = Compress("--pretrained", "resnet18", "--grayscale");
        AssertRejected(code, output, "--pretrained resnet18 takes 3-channel (RGB) images, and --grayscale asks for 1 channel");
    }

    /// <summary>The profile takes the model compress would train: the same refusals, and a missing package is named
    /// the same way before anything is timed. (Timing every layer of ResNet18 takes minutes, so no table is written here.)</summary>
    [Fact]
    public void ProfileRefusesAsCompressDoesAndNamesAMissingPackage()
    {
        string table = Path.Combine(_root, "table.json");
        string model = Path.Combine(_root, "model.onnx");
        File.WriteAllText(model, "");
        foreach (var (options, message) in new (string[], string)[]
        {
            (["--pretrained", "resnet18", "--from-onnx", model], "--pretrained and --from-onnx both name the model to time; give one of them."),
            (["--pretrained", "vgg16"], "--pretrained 'vgg16' is not a known model; known: resnet18."),
            (["--pretrained", "resnet18", "--channels", "1"], "--pretrained resnet18 takes 3-channel (RGB) images, and --channels asks for 1"),
        })
        {
            var (code, output) = CliRunner.Run(["profile", "--output", table, .. options]);
            Assert.True(code == ExitCodes.BadInput, output);
            Assert.Contains(message, output.ReplaceLineEndings(" "));
        }

        string empty = Directory.CreateDirectory(Path.Combine(_root, "packages")).FullName;
        var (missingCode, missing) = WithPackagesFolder(empty, () => CliRunner.Run("profile", "--output", table, "--pretrained", "resnet18"));
        Assert.True(missingCode == ExitCodes.BadInput, missing);
        Assert.Contains($"--pretrained resnet18: the package {PackageId} is not in the NuGet global packages folder '{empty}'", missing.ReplaceLineEndings(" "));
        Assert.False(File.Exists(table));
    }

    private (int, string) Compress(params string[] options) => CliRunner.Run(["compress", "--dataset", Data, "--output", Output, .. options]);

    /// <summary>Runs <paramref name="run"/> with NUGET_PACKAGES set to <paramref name="folder"/>; the tests of this
    /// assembly run one at a time (AssemblyInfo), so no other test sees it.</summary>
    private static (int, string) WithPackagesFolder(string folder, Func<(int, string)> run)
    {
        string? saved = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        Environment.SetEnvironmentVariable("NUGET_PACKAGES", folder);
        try
        {
            return run();
        }
        finally
        {
            Environment.SetEnvironmentVariable("NUGET_PACKAGES", saved);
        }
    }

    private void AssertRejected(int code, string output, string message)
    {
        Assert.True(code == ExitCodes.BadInput, output);
        Assert.Contains("error: ", output);
        Assert.Contains(message, output.ReplaceLineEndings(" "));
        Assert.False(Directory.Exists(Output), "the output folder was created");
        Assert.Empty(Directory.GetDirectories(_root, ".*"));
    }
}
