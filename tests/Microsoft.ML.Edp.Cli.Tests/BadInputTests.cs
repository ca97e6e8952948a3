using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>Bad input gets a clear message naming the folder or file, a non-zero exit code, and leaves nothing
/// half-written: the output folder is absent (or untouched) and no staging folder is left beside it.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _root = ImageFolders.NewTemp("bad");

    private string Output => Path.Combine(_root, "out");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void AnEmptyDatasetFolderIsRejected()
    {
        string data = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;
        AssertRejected(Compress(data), $"The training data set folder '{data}' holds no images in class subfolders: expected one subfolder per class, each holding PNG or JPEG files; found none.");
    }

    [Fact]
    public void ImagesOutsideClassFoldersAreRejectedWithTheirCount()
    {
        string data = Directory.CreateDirectory(Path.Combine(_root, "flat")).FullName;
        ImageFolders.Write(data, test: false, perClass: 3, classLimit: 1);
        foreach (var file in Directory.GetFiles(Directory.GetDirectories(data)[0]))
            File.Move(file, Path.Combine(data, Path.GetFileName(file)));
        AssertRejected(Compress(data), "found 3 image(s) directly in the folder, which carry no class.");
    }

    [Fact]
    public void ASingleClassIsRejected()
    {
        string data = Path.Combine(_root, "one");
        ImageFolders.Write(data, test: false, perClass: 5, classLimit: 1);
        string label = Path.GetFileName(Directory.GetDirectories(data).Single());
        AssertRejected(Compress(data), $"has 1 class ('{label}', 5 images): expected at least 2 classes");
    }

    [Fact]
    public void CorruptAndTruncatedImagesAreNamed()
    {
        string data = Path.Combine(_root, "corrupt");
        ImageFolders.Write(data, test: false, perClass: 4, classLimit: 2);
        var classes = Directory.GetDirectories(data).Order().ToArray();
        string garbage = Path.Combine(classes[0], "garbage.png");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        string truncated = Path.Combine(classes[1], "0000.png");
        var bytes = File.ReadAllBytes(truncated);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);

        var (code, output) = Compress(data);
        AssertRejected((code, output), "2 image file(s) in the training data set");
        Assert.Contains($"'{garbage}' (not a PNG or JPEG image", output);
        Assert.Contains($"'{truncated}' (damaged image data", output);
    }

    [Fact]
    public void AModelThatIsNotOnnxIsRejectedNamingTheFile()
    {
        string data = Path.Combine(_root, "onnx");
        ImageFolders.Write(data, test: false, perClass: 4, classLimit: 2);
        string model = Path.Combine(_root, "model.onnx");
        File.WriteAllText(model, "this is not an ONNX model");
        var result = CliRunner.Run("compress", "--dataset", data, "--output", Output, "--epochs", "1", "--from-onnx", model);
        AssertRejected(result, "--from-onnx: ONNX model");
        Assert.Contains("model.onnx", result.Item2);
    }

    [Fact]
    public void ANonEmptyOutputFolderIsKeptWithoutForce()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 4, classLimit: 2);
        Directory.CreateDirectory(Output);
        File.WriteAllText(Path.Combine(Output, "keep.txt"), "mine");
        var (code, output) = Compress(data);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"error: The output folder '{Output}' is not empty; use --force to replace its contents, or choose another folder.", output);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(Output).Select(Path.GetFileName));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(Output, "keep.txt")));
        AssertNoStaging();
    }

    [Fact]
    public void ForceReplacesANonEmptyOutputFolderOnceTheNewResultsAreComplete()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 10, classLimit: 2);
        Directory.CreateDirectory(Output);
        File.WriteAllText(Path.Combine(Output, "old.txt"), "old");
        var (code, output) = CliRunner.Run("compress", "--dataset", data, "--output", Output, "--epochs", "1", "--batch-size", "8", "--threads", "2", "--force");
        Assert.True(code == 0, output);
        Assert.False(File.Exists(Path.Combine(Output, "old.txt")));
        Assert.True(File.Exists(Path.Combine(Output, "model.zip")));
        AssertNoStaging();
    }

    [Fact]
    public void AnUnwritableOutputPathIsRejectedBeforeTraining()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 4, classLimit: 2);
        string file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "");
        string output = Path.Combine(file, "out");
        var (code, text) = CliRunner.Run("compress", "--dataset", data, "--output", output);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"error: Cannot write the output folder '{output}': ", text);
        Assert.DoesNotContain("epoch", text);
        Assert.Equal("", File.ReadAllText(file));
        Assert.Empty(Directory.GetDirectories(_root, ".*"));

        (code, text) = CliRunner.Run("compress", "--dataset", data, "--output", file);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"error: The output path '{file}' is a file;", text);
    }

    [Fact]
    public void ACancelledRunLeavesNothingBehind()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 10, classLimit: 2);
        // Ctrl+C cancels this token; training stops at the next batch boundary.
        var (code, output) = CliRunner.Run(["compress", "--dataset", data, "--output", Output, "--epochs", "1", "--batch-size", "4"],
            new CancellationToken(canceled: true));
        Assert.NotEqual(0, code);
        Assert.Contains("cancelled", output);
        Assert.False(Directory.Exists(Output));
        AssertNoStaging();
    }

    [Fact]
    public void AnOutputFolderHoldingTheDataIsRefusedEvenWithForce()
    {
        string data = Path.Combine(Output, "images");
        ImageFolders.Write(data, test: false, perClass: 2, classLimit: 2);
        var (code, output) = CliRunner.Run("compress", "--dataset", data, "--output", Output, "--force");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"error: The output folder '{Output}' holds the data set '{data}'", output);
        Assert.Equal(4, Directory.GetFiles(data, "*.png", SearchOption.AllDirectories).Length);
        AssertNoStaging();
    }

    [Fact]
    public void TargetMacsIsMetAndTheBatchSizeShrinksToASmallDataSet()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 30, classLimit: 2);
        var (code, output) = CliRunner.Run("compress", "--dataset", data, "--output", Output, "--epochs", "2", "--threads", "2", "--target-macs", "0.5", "--channel-multiple", "8");
        Assert.True(code == 0, output);
        Assert.Contains("Batch size 128 is larger than the 48 training images; using 48.", output);
        var report = Reporting.RunReport.FromJson(File.ReadAllText(Path.Combine(Output, "report.json")), "report.json");
        // The library meets a budget within 3 points of the plain network's MACs.
        Assert.InRange(report.Compression.MacsRatio, 0.47, 0.53);
        Assert.Contains($"MACs kept {report.Compression.MacsRatio.ToString("P1", System.Globalization.CultureInfo.InvariantCulture)}", output);
        Assert.Equal(48, report.Training!.BatchSize);
    }

    [Fact]
    public void ATargetBelowWhatTheNetworkCanReachIsRefusedWithTheReachableRatio()
    {
        string data = Path.Combine(_root, "data");
        ImageFolders.Write(data, test: false, perClass: 10, classLimit: 2);
        AssertRejected(CliRunner.Run("compress", "--dataset", data, "--output", Output, "--epochs", "1", "--target-macs", "0.0001"),
            "--target-macs 0.0001: TargetMacsRatio is 0, but this network cannot go below");
    }

    [Fact]
    public void MissingOptionsAndBadValuesAreRejectedByTheParser()
    {
        var (code, output) = CliRunner.Run("compress", "--output", Output);
        Assert.NotEqual(0, code);
        Assert.Contains("missing required option 'dataset'", output);
        (code, output) = CliRunner.Run("compress", "--dataset", _root, "--output", Output, "--validation-fraction", "1.5");
        Assert.NotEqual(0, code);
        Assert.Contains("--validation-fraction must be in [0, 1); found 1.5.", output);
        (code, output) = CliRunner.Run("compress", "--dataset", _root, "--output", Output, "--target-latency", "1.5");
        Assert.NotEqual(0, code);
        Assert.Contains("--target-latency must be in (0, 1]; found 1.5.", output);
        Assert.False(Directory.Exists(Output));
    }

    [Fact]
    public void EveryCommandHasHelp()
    {
        foreach (var command in new[] { "compress", "evaluate", "predict", "report", "profile" })
        {
            var (code, output) = CliRunner.Run(command, "--help");
            Assert.Equal(0, code);
            Assert.Contains("USAGE:", output);
        }
        Assert.Contains("--validation-fraction", CliRunner.Run("compress", "--help").Output);
        Assert.Contains("--channel-multiple", CliRunner.Run("compress", "--help").Output);
        Assert.Contains("--target-latency", CliRunner.Run("compress", "--help").Output);
    }

    [Fact]
    public void PredictAndEvaluateNameAMissingModelAndAnUnreadableImage()
    {
        string model = Path.Combine(_root, "none.zip");
        AssertRejected(CliRunner.Run("predict", "--model", model, "x.png"), $"The model file '{model}' does not exist");
        string notZip = Path.Combine(_root, "model.zip");
        File.WriteAllText(notZip, "not a zip");
        AssertRejected(CliRunner.Run("evaluate", "--model", notZip, "--dataset", _root), $"The model file '{notZip}' is not an EDP model written by 'edp compress'");
    }

    private (int, string) Compress(string data) => CliRunner.Run("compress", "--dataset", data, "--output", Output, "--epochs", "1");

    private void AssertRejected((int Code, string Output) result, string message)
    {
        Assert.True(result.Code == ExitCodes.BadInput, result.Output);
        Assert.Contains("error: ", result.Output);
        Assert.Contains(message, result.Output.ReplaceLineEndings(" "));
        Assert.False(Directory.Exists(Output), "the output folder was created");
        AssertNoStaging();
    }

    private void AssertNoStaging() => Assert.Empty(Directory.GetDirectories(_root, ".*"));
}
