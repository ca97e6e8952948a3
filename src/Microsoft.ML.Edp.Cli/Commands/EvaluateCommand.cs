using System.ComponentModel;
using System.Globalization;
using System.Text;
using Microsoft.ML.Edp.Cli.Data;
using Microsoft.ML.Edp.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Options of <c>edp evaluate</c>.</summary>
public sealed class EvaluateSettings : CommandSettings
{
    /// <summary>The model.zip that <c>edp compress</c> wrote; required.</summary>
    [CommandOption("--model <ZIP>", isRequired: true)]
    [Description("The model.zip written by 'edp compress'.")]
    public string Model { get; init; } = "";

    /// <summary>The folder of labelled images to evaluate on, one subfolder per class named as in training; required.</summary>
    [CommandOption("--dataset <FOLDER>", isRequired: true)]
    [Description("Folder of labelled images: one subfolder per class, named as in training.")]
    public string Dataset { get; init; } = "";

    /// <summary>A file to write the metrics and the confusion matrix to as Markdown, besides the console; null writes none.</summary>
    [CommandOption("--markdown <FILE>")]
    [Description("Also write the metrics and confusion matrix as Markdown to this file.")]
    public string? Markdown { get; init; }
}

/// <summary><c>edp evaluate</c>: accuracy, per-class precision and recall, and the confusion matrix.</summary>
public sealed class EvaluateCommand(IAnsiConsole console) : Command<EvaluateSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, EvaluateSettings settings, CancellationToken cancellationToken)
    {
        var ml = new MLContext(seed: 1);
        var (model, report) = ModelFile.Load(ml, settings.Model);
        var data = ImageFolderDataset.Scan(settings.Dataset, "evaluation", minimumClasses: 1);
        if (data.Classes.Except(report.ClassNames, StringComparer.Ordinal).ToArray() is { Length: > 0 } unknown)
            throw new CliException($"The data set '{data.Root}' has class folder(s) the model does not know: '{string.Join("', '", unknown)}'; "
                + $"the model's classes are '{string.Join("', '", report.ClassNames)}'.");

        var summary = EvaluationSummary.Evaluate(ml, model, ImagePipeline.Rows(ml, data.Images), report.ClassNames, data.Root);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Accuracy {summary.Accuracy:P2} (macro {summary.MacroAccuracy:P2}), log-loss {summary.LogLoss:F4} on {summary.Images} images from '{data.Root}'."));

        var perClass = new Table().AddColumns("class", "precision", "recall", "images");
        foreach (var m in summary.Classes)
            perClass.AddRow(Markup.Escape(m.Class), m.Precision.ToString("P1", CultureInfo.InvariantCulture),
                m.Recall.ToString("P1", CultureInfo.InvariantCulture), m.Support.ToString(CultureInfo.InvariantCulture));
        console.Write(perClass);

        // Columns are numbered as the rows, so that long class names do not squeeze the counts.
        var matrix = new Table().Title("confusion matrix (rows: true class, columns: predicted class, numbered as the rows)").AddColumn("");
        for (int i = 0; i < summary.Classes.Length; i++)
            matrix.AddColumn(new TableColumn((i + 1).ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int i = 0; i < summary.ConfusionMatrix.Length; i++)
            matrix.AddRow([Markup.Escape($"{i + 1} {summary.Classes[i].Class}"), .. summary.ConfusionMatrix[i].Select(v => v.ToString(CultureInfo.InvariantCulture))]);
        console.Write(matrix);

        if (settings.Markdown is { } path)
        {
            var sb = new StringBuilder($"# edp evaluate: `{data.Root}`\n\n");
            ReportMarkdown.AppendEvaluation(sb, summary);
            AtomicFile.Write(path, sb.ToString());
        }
        return ExitCodes.Success;
    }
}
