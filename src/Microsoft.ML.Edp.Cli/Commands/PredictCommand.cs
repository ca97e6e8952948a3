using System.ComponentModel;
using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Cli.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Options of <c>edp predict</c>.</summary>
public sealed class PredictSettings : CommandSettings
{
    /// <summary>The model.zip that <c>edp compress</c> wrote; required.</summary>
    [CommandOption("--model <ZIP>", isRequired: true)]
    [Description("The model.zip written by 'edp compress'.")]
    public string Model { get; init; } = "";

    /// <summary>The PNG or JPEG files to classify, at least one.</summary>
    [CommandArgument(0, "<IMAGES>")]
    [Description("PNG or JPEG files to classify.")]
    public string[] Images { get; init; } = [];

    /// <summary>How many labels to show per image, most likely first; default 3.</summary>
    [CommandOption("--top <K>")]
    [Description("Labels shown per image, most likely first.")]
    [DefaultValue(3)]
    public int Top { get; init; } = 3;

    /// <inheritdoc />
    public override ValidationResult Validate()
        => Top < 1 ? ValidationResult.Error($"--top must be at least 1; found {Top}.") : ValidationResult.Success();
}

/// <summary><c>edp predict</c>: the top-k classes of each image with their scores. Each image prints one line,
/// <c>file: label (score), label (score), ...</c>.</summary>
public sealed class PredictCommand(IAnsiConsole console) : Command<PredictSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, PredictSettings settings, CancellationToken cancellationToken)
    {
        var ml = new MLContext(seed: 1);
        var (model, report) = ModelFile.Load(ml, settings.Model);
        var files = settings.Images.Select(ReadableImage).ToArray();
        var rows = ml.Data.LoadFromEnumerable(files.Select(f => new ImageRow { ImagePath = f }).ToArray());
        var scored = model.Transform(rows);
        var scores = ReadScores(scored);
        for (int i = 0; i < files.Length; i++)
        {
            var top = scores[i].Select((s, k) => (Score: s, Class: report.ClassNames[k]))
                .OrderByDescending(t => t.Score).Take(settings.Top);
            console.WriteLine($"{settings.Images[i]}: " + string.Join(", ", top.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Class} ({t.Score:F4})"))));
        }
        return ExitCodes.Success;
    }

    // GetColumn hands out VBuffers that share one array, so each row's scores are copied out of a cursor.
    private static List<float[]> ReadScores(IDataView scored)
    {
        var scores = new List<float[]>();
        using var cursor = scored.GetRowCursor([scored.Schema["Score"]]);
        var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        VBuffer<float> buffer = default;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            scores.Add(buffer.DenseValues().ToArray());
        }
        return scores;
    }

    private static string ReadableImage(string path)
    {
        if (!File.Exists(path))
            throw new CliException($"The image file '{path}' does not exist.");
        using var codec = SkiaSharp.SKCodec.Create(path, out var result);
        if (codec == null)
            throw new CliException($"The image file '{path}' could not be read as PNG or JPEG: {result}.");
        return Path.GetFullPath(path);
    }
}
