using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Cli.Data;
using Microsoft.ML.Edp.Cli.Reporting;
using SkiaSharp;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>compress, then evaluate, predict and report, on real PNG folders.</summary>
public sealed partial class EndToEndTests(CompressedFolderFixture run) : IClassFixture<CompressedFolderFixture>
{
    // Measured with this fixture (seed 1, 2 threads, 400 training and 150 validation images, 3 epochs, 39 steps): 64.7 %
    // without compression, 44.0 % with the default budget (half the MACs) when the default trained compressed-aware
    // blocks; 10 classes, so chance is 10 %.
    private const double AccuracyFloor = 0.35;

    [Fact]
    public void CompressWritesTheModelTheOnnxFileTheReportsTheChartsAndTheProject()
    {
        Assert.True(run.ExitCode == 0, run.Output);
        foreach (var file in new[] { "model.zip", "model.onnx", "report.json", "report.md" })
            Assert.True(new FileInfo(Path.Combine(run.OutputFolder, file)).Length > 0, file);
        var charts = Directory.GetFiles(run.OutputFolder, "chart-*.png").Select(f => Path.GetFileName(f)!).Order().ToArray();
        // The built-in network trains plain layers by default (Decompose unset), so it has no ranks to chart.
        Assert.Equal(["chart-accuracy.png", "chart-cost.png", "chart-layer-widths.png", "chart-loss.png"], charts);
        foreach (var chart in charts)
        {
            using var codec = SKCodec.Create(Path.Combine(run.OutputFolder, chart));
            Assert.NotNull(codec);
            Assert.Equal(900, codec.Info.Width);
        }
        Assert.True(File.Exists(Path.Combine(run.OutputFolder, "EdpModel.ConsoleApp", "EdpModel.ConsoleApp.csproj")));
        Assert.Empty(Directory.GetDirectories(run.Root, ".*"));
    }

    [Fact]
    public void CompressLogsOnePlainLinePerEpochWithLossAccuracyLiveWidthAndEtaWhenNotInteractive()
    {
        for (int epoch = 1; epoch <= CompressedFolderFixture.Epochs; epoch++)
            Assert.Matches($@"epoch {epoch}/{CompressedFolderFixture.Epochs}: loss \d+\.\d{{4}}, accuracy \d+\.\d %, live MACs [\d,]+, elapsed \d+:\d\d, ETA \d+:\d\d", run.Output);
        Assert.Matches(@"rank/width conv1:-/16 conv2:-/16 conv3:-/\d+", run.Output);
    }

    [Fact]
    public void CompressResizesMixedSizesAndSaysSo()
    {
        int resized = 10 * (CompressedFolderFixture.TrainPerClass / 8);
        Assert.Contains($"Resizing {resized} of {10 * (CompressedFolderFixture.TrainPerClass + CompressedFolderFixture.TestPerClass)} images to 28x28: found {resized} at 32x32.", run.Output);
        var report = RunReport.FromJson(File.ReadAllText(Path.Combine(run.OutputFolder, "report.json")), "report.json");
        Assert.Equal(resized, report.Dataset!.ResizedImages);
        Assert.Equal((28, 28, 1), (report.Dataset.Width, report.Dataset.Height, report.Dataset.Channels));
    }

    [Fact]
    public void ReportJsonHoldsTheDataTheValidationMetricsAndTheCompression()
    {
        var report = RunReport.FromJson(File.ReadAllText(Path.Combine(run.OutputFolder, "report.json")), "report.json");
        Assert.Equal(10, report.Dataset!.Classes.Length);
        Assert.Equal(Enumerable.Repeat(CompressedFolderFixture.TrainPerClass, 10), report.Dataset.TrainingImages);
        Assert.Equal(Enumerable.Repeat(CompressedFolderFixture.TestPerClass, 10), report.Dataset.ValidationImages);
        Assert.Equal(CompressedFolderFixture.Epochs, report.Compression.Epochs.Length);
        var validation = report.Validation!;
        Assert.Equal(10 * CompressedFolderFixture.TestPerClass, validation.Images);
        Assert.True(validation.Accuracy >= AccuracyFloor, $"validation accuracy {validation.Accuracy:P2} < {AccuracyFloor:P0}");
        // ML.NET's evaluation of the saved pipeline and the library's ONNX Runtime check see the same images.
        Assert.Equal(report.Compression.ValidationAccuracyAfterPruning!.Value, validation.Accuracy, 1e-9);
        Assert.True(report.Compression.MacsAfter <= report.Compression.MacsBefore);
        Assert.Contains("| **total** |", File.ReadAllText(Path.Combine(run.OutputFolder, "report.md")));
    }

    [Fact]
    public void EvaluatePrintsTheSameAccuracyAsTheReportWithPerClassMetricsAndAConfusionMatrix()
    {
        var (code, output) = CliRunner.Run("evaluate", "--model", run.ModelPath, "--dataset", run.TestFolder);
        Assert.True(code == 0, output);
        var match = AccuracyLine().Match(output);
        Assert.True(match.Success, output);
        var report = RunReport.FromJson(File.ReadAllText(Path.Combine(run.OutputFolder, "report.json")), "report.json");
        Assert.Equal(report.Validation!.Accuracy.ToString("P2", CultureInfo.InvariantCulture), match.Groups[1].Value);
        Assert.Contains("confusion matrix", output);
        foreach (var cls in report.Dataset!.Classes)
            Assert.Contains(cls, output);
    }

    [Fact]
    public void PredictGivesTheLabelAPredictionEngineGives()
    {
        var images = Directory.GetDirectories(run.TestFolder).Order().Select(d => Directory.GetFiles(d).Order().First()).ToArray();
        var (code, output) = CliRunner.Run(["predict", "--model", run.ModelPath, "--top", "2", .. images]);
        Assert.True(code == 0, output);

        var ml = new MLContext(1);
        var model = EdpModel.Load(ml, run.ModelPath, out _);
        var classes = EdpModel.ReadReport(run.ModelPath).ClassNames;
        using var engine = ml.Model.CreatePredictionEngine<ImageRow, Scored>(model);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var image in images)
        {
            var predicted = engine.Predict(new ImageRow { ImagePath = image });
            string expected = classes[(int)predicted.PredictedLabel - 1];
            var line = lines.Single(l => l.StartsWith(image + ": ", StringComparison.Ordinal));
            var top = PredictLabel().Matches(line[(image.Length + 2)..]);
            Assert.Equal(2, top.Count);
            Assert.True(expected == top[0].Groups[1].Value, $"{line} / engine key {predicted.PredictedLabel} scores {string.Join(",", predicted.Score.Select(s => s.ToString("F3")))}");
            Assert.Equal(predicted.Score.Max(), float.Parse(top[0].Groups[2].Value, CultureInfo.InvariantCulture), 1e-4);
        }
    }

    [Fact]
    public void ReportRerendersReportMdFromReportJsonAndFromTheModelAlone()
    {
        string copy = ImageFolders.NewTemp("report");
        try
        {
            foreach (var file in new[] { "report.json", "report.md" })
                File.Copy(Path.Combine(run.OutputFolder, file), Path.Combine(copy, file));
            string original = File.ReadAllText(Path.Combine(copy, "report.md"));
            File.Delete(Path.Combine(copy, "report.md"));
            var (code, output) = CliRunner.Run("report", copy);
            Assert.True(code == 0, output);
            Assert.Equal(original, File.ReadAllText(Path.Combine(copy, "report.md")));
            Assert.Equal(4, Directory.GetFiles(copy, "chart-*.png").Length);

            string fromModel = ImageFolders.NewTemp("report-model");
            File.Copy(run.ModelPath, Path.Combine(fromModel, "model.zip"));
            (code, output) = CliRunner.Run("report", fromModel);
            Assert.True(code == 0, output);
            var recovered = RunReport.FromJson(File.ReadAllText(Path.Combine(fromModel, "report.json")), "report.json");
            var saved = RunReport.FromJson(File.ReadAllText(Path.Combine(copy, "report.json")), "report.json");
            Assert.Equal(saved.Compression.MacsAfter, recovered.Compression.MacsAfter);
            Assert.Equal(saved.Compression.ClassNames, recovered.Compression.ClassNames);
            Assert.Contains("## Compression", File.ReadAllText(Path.Combine(fromModel, "report.md")));
            Directory.Delete(fromModel, true);
        }
        finally
        {
            Directory.Delete(copy, true);
        }
    }

    private sealed class Scored
    {
        public uint PredictedLabel { get; set; }
        [VectorType]
        public float[] Score { get; set; } = [];
    }

    [GeneratedRegex(@"Accuracy (\d+\.\d+ ?%)")]
    private static partial Regex AccuracyLine();

    [GeneratedRegex(@"([^,]+?) \((\d\.\d+)\)")]
    private static partial Regex PredictLabel();
}
