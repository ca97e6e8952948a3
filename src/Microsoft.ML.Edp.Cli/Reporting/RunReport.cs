using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>The data a model was trained on.</summary>
public sealed class DatasetSummary
{
    /// <summary>The training folder.</summary>
    public string Folder { get; init; } = "";
    /// <summary>Class names in the model's class order.</summary>
    public string[] Classes { get; init; } = [];
    /// <summary>Training images per class.</summary>
    public int[] TrainingImages { get; init; } = [];
    /// <summary>Validation images per class.</summary>
    public int[] ValidationImages { get; init; } = [];
    /// <summary>Where the validation images came from: a held-out fraction or a folder.</summary>
    public string Validation { get; init; } = "";
    /// <summary>Image width the network sees.</summary>
    public int Width { get; init; }
    /// <summary>Image height the network sees.</summary>
    public int Height { get; init; }
    /// <summary>1 (grayscale) or 3 (RGB).</summary>
    public int Channels { get; init; }
    /// <summary>Images whose size differed from Width x Height and were resized.</summary>
    public int ResizedImages { get; init; }
}

/// <summary>How training was set up.</summary>
public sealed class TrainingSettings
{
    /// <summary>The network trained, as the library's compression report names it.</summary>
    public string Architecture { get; init; } = "";
    /// <summary>Passes over the training images.</summary>
    public int Epochs { get; init; }
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; }
    /// <summary>Random seed.</summary>
    public int Seed { get; init; }
    /// <summary>Requested libtorch threads; null means one per core.</summary>
    public int? Threads { get; init; }
    /// <summary>The device asked for with <c>--device</c>; a fallback to the CPU is logged, not recorded here.</summary>
    public string Device { get; init; } = "";
}

/// <summary>Everything <c>edp compress</c> reports: data, settings, validation metrics, the library's compression
/// report and the charts. report.json holds it; report.md is rendered from it.</summary>
public sealed class RunReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The tool's version.</summary>
    public string ToolVersion { get; init; } = "";
    /// <summary>When the run finished (UTC).</summary>
    public DateTime CreatedUtc { get; init; }
    /// <summary>The training data; null for a report recovered from a model alone.</summary>
    public DatasetSummary? Dataset { get; init; }
    /// <summary>The training settings; null for a report recovered from a model alone.</summary>
    public TrainingSettings? Training { get; init; }
    /// <summary>Metrics of the saved model on the validation images; null without validation images.</summary>
    public EvaluationSummary? Validation { get; init; }
    /// <summary>The compression report of the EDP library.</summary>
    public EdpCompressionReport Compression { get; init; } = new();

    /// <summary>Indented camel-case JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads <see cref="ToJson"/>'s output; throws a <see cref="CliException"/> naming the file when it is not a report.</summary>
    public static RunReport FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<RunReport>(json, JsonOptions) is { Compression.Layers.Length: > 0 } report
                ? report
                : throw new CliException($"'{source}' holds no edp report: expected the report.json written by 'edp compress'.");
        }
        catch (JsonException e)
        {
            throw new CliException($"'{source}' is not a valid edp report: {e.Message}");
        }
    }
}
