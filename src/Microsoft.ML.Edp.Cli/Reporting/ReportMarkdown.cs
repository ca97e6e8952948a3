using System.Globalization;
using System.Text;

namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>Renders a <see cref="RunReport"/> as Markdown: data, settings, validation metrics and confusion matrix,
/// the per-layer compression table, training per epoch and the charts.</summary>
public static class ReportMarkdown
{
    /// <summary>The Markdown text; <paramref name="charts"/> are file names beside report.md.</summary>
    public static string Render(RunReport report, IReadOnlyList<string> charts)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var comp = report.Compression;
        sb.AppendLine("# edp compress report");
        sb.AppendLine();
        sb.AppendLine(c, $"MACs kept: **{comp.MacsRatio:P1}** ({comp.MacsAfter:N0} of {comp.MacsBefore:N0}); parameters kept: **{comp.ParamsRatio:P1}** ({comp.ParamsAfter:N0} of {comp.ParamsBefore:N0}).");
        if (report.Validation is { } v)
            sb.AppendLine(c, $"Validation accuracy of the saved model: **{v.Accuracy:P2}** on {v.Images:N0} images.");
        sb.AppendLine();

        if (report.Dataset is { } d)
        {
            sb.AppendLine("## Data");
            sb.AppendLine();
            sb.AppendLine(c, $"- folder: `{d.Folder}`");
            sb.AppendLine(c, $"- images: {d.Channels}x{d.Height}x{d.Width} ({(d.Channels == 1 ? "grayscale" : "RGB")}); {d.ResizedImages:N0} resized to {d.Width}x{d.Height}");
            sb.AppendLine(c, $"- validation: {d.Validation}");
            sb.AppendLine();
            sb.AppendLine("| class | training images | validation images |");
            sb.AppendLine("|---|---:|---:|");
            for (int i = 0; i < d.Classes.Length; i++)
                sb.AppendLine(c, $"| {d.Classes[i]} | {At(d.TrainingImages, i):N0} | {At(d.ValidationImages, i):N0} |");
            sb.AppendLine();
        }
        if (report.Training is { } t)
        {
            sb.AppendLine("## Training");
            sb.AppendLine();
            sb.AppendLine(c, $"{t.Architecture}, {t.Epochs} epochs, batch {t.BatchSize}, seed {t.Seed}, {(t.Threads is { } n ? n.ToString(c) + " threads" : "one thread per core")}, device {t.Device}.");
            sb.AppendLine();
        }
        if (comp.Epochs.Length > 0)
        {
            sb.AppendLine("| epoch | loss | training accuracy | live MACs | seconds |");
            sb.AppendLine("|---:|---:|---:|---:|---:|");
            foreach (var e in comp.Epochs)
                sb.AppendLine(c, $"| {e.Epoch} | {e.Loss:F4} | {e.Accuracy:P2} | {e.LiveMacs:N0} | {e.Seconds:F1} |");
            sb.AppendLine();
        }
        if (report.Validation is { } val)
        {
            sb.AppendLine("## Validation");
            sb.AppendLine();
            AppendEvaluation(sb, val);
        }
        sb.AppendLine(comp.ToMarkdown().Replace("## EDP compression report", "## Compression", StringComparison.Ordinal));
        if (charts.Count > 0)
        {
            sb.AppendLine("## Charts");
            sb.AppendLine();
            foreach (var chart in charts)
                sb.AppendLine(c, $"![{Path.GetFileNameWithoutExtension(chart)}]({chart})");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>Accuracy, the per-class table and the confusion matrix.</summary>
    public static void AppendEvaluation(StringBuilder sb, EvaluationSummary e)
    {
        var c = CultureInfo.InvariantCulture;
        sb.AppendLine(c, $"Accuracy {e.Accuracy:P2} (macro {e.MacroAccuracy:P2}), log-loss {e.LogLoss:F4}, {e.Images:N0} images.");
        sb.AppendLine();
        sb.AppendLine("| class | precision | recall | images |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var m in e.Classes)
            sb.AppendLine(c, $"| {m.Class} | {m.Precision:P1} | {m.Recall:P1} | {m.Support:N0} |");
        sb.AppendLine();
        sb.AppendLine("Confusion matrix (rows: true class, columns: predicted class):");
        sb.AppendLine();
        sb.AppendLine("| | " + string.Join(" | ", e.Classes.Select(m => m.Class)) + " |");
        sb.AppendLine("|---|" + string.Concat(e.Classes.Select(_ => "---:|")));
        for (int i = 0; i < e.ConfusionMatrix.Length; i++)
            sb.AppendLine($"| {e.Classes[i].Class} | " + string.Join(" | ", e.ConfusionMatrix[i].Select(v => v.ToString(c))) + " |");
        sb.AppendLine();
    }

    private static int At(int[] values, int i) => i < values.Length ? values[i] : 0;
}
