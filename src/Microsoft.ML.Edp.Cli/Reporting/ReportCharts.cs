using System.Globalization;
using SkiaSharp;

namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>The report's charts: per-layer width and rank before and after, loss and accuracy per epoch, and MACs and
/// parameters before and after.</summary>
public static class ReportCharts
{
    private static readonly SKColor Before = new(150, 160, 175), After = new(30, 110, 200), Loss = new(210, 80, 40), Accuracy = new(30, 150, 80);

    /// <summary>Writes the charts into <paramref name="folder"/> and returns their file names.</summary>
    public static IReadOnlyList<string> Write(string folder, RunReport report)
    {
        var comp = report.Compression;
        var c = CultureInfo.InvariantCulture;
        var charts = new List<(string File, byte[] Png)>();
        var names = comp.Layers.Select(l => l.Name).ToArray();
        Func<double, string> count = v => v.ToString("N0", c);
        Func<double, string> percent = v => v.ToString("P0", c);

        charts.Add(("chart-layer-widths.png", ChartCanvas.GroupedBars("Output channels per layer", "channels", names,
        [
            new("before", comp.Layers.Select(l => (double)l.OriginalShape[0]).ToArray(), Before),
            new("after", comp.Layers.Select(l => (double)l.KeptOutputChannels).ToArray(), After),
        ], count)));

        var ranked = comp.Layers.Where(l => l.KeptRank is not null).ToArray();
        if (ranked.Length > 0)
            charts.Add(("chart-layer-ranks.png", ChartCanvas.GroupedBars("Rank (basis filters) per compressed layer", "rank", ranked.Select(l => l.Name).ToArray(),
            [
                new("full rank", ranked.Select(l => (double)FullRank(l)).ToArray(), Before),
                new("kept", ranked.Select(l => (double)l.KeptRank!.Value).ToArray(), After),
            ], count)));

        if (comp.Epochs.Length > 0)
        {
            charts.Add(("chart-loss.png", ChartCanvas.Lines("Training loss per epoch", "cross-entropy", "epoch",
                [new("training loss", comp.Epochs.Select(e => e.Loss).ToArray(), Loss)], v => v.ToString("F3", c))));
            charts.Add(("chart-accuracy.png", ChartCanvas.Lines("Training accuracy per epoch", "accuracy", "epoch",
                [new("training accuracy", comp.Epochs.Select(e => e.Accuracy).ToArray(), Accuracy)], percent)));
        }

        charts.Add(("chart-cost.png", ChartCanvas.GroupedBars(
            string.Create(c, $"MACs {comp.MacsBefore:N0} -> {comp.MacsAfter:N0}, parameters {comp.ParamsBefore:N0} -> {comp.ParamsAfter:N0}"),
            "% of the plain network", ["MACs per image", "parameters"],
            [
                new("before", [1.0, 1.0], Before),
                new("after", [comp.MacsRatio, comp.ParamsRatio], After),
            ], percent)));

        foreach (var (file, png) in charts)
            AtomicFile.Write(Path.Combine(folder, file), png);
        return charts.Select(x => x.File).ToArray();
    }

    // A compressed-aware block starts with rank min(n, c*k*k): the identity A, or the SVD of W where c*k*k < n.
    private static long FullRank(EdpLayerReport layer)
        => Math.Min(layer.OriginalShape[0], layer.OriginalShape.Skip(1).Aggregate(1L, (a, b) => a * b));
}
