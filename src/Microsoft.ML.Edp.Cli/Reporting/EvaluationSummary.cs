using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>Precision and recall of one class.</summary>
public sealed class ClassMetrics
{
    /// <summary>The class name.</summary>
    public string Class { get; init; } = "";
    /// <summary>Of the images predicted as this class, the fraction that are.</summary>
    public double Precision { get; init; }
    /// <summary>Of the images of this class, the fraction predicted as it.</summary>
    public double Recall { get; init; }
    /// <summary>Images of this class in the evaluated data.</summary>
    public long Support { get; init; }
}

/// <summary>Accuracy, per-class precision and recall and the confusion matrix of a model on a data set, from ML.NET's
/// <c>MulticlassClassification.Evaluate</c>.</summary>
public sealed class EvaluationSummary
{
    /// <summary>What was evaluated, e.g. the folder.</summary>
    public string Data { get; init; } = "";
    /// <summary>Images evaluated.</summary>
    public long Images { get; init; }
    /// <summary>Fraction of images predicted correctly (ML.NET's micro accuracy).</summary>
    public double Accuracy { get; init; }
    /// <summary>Mean of the per-class accuracies (ML.NET's macro accuracy).</summary>
    public double MacroAccuracy { get; init; }
    /// <summary>Mean log-loss.</summary>
    public double LogLoss { get; init; }
    /// <summary>Per-class metrics, in the model's class order.</summary>
    public ClassMetrics[] Classes { get; init; } = [];
    /// <summary>Counts: row = true class, column = predicted class, in the model's class order.</summary>
    public long[][] ConfusionMatrix { get; init; } = [];

    /// <summary>Scores <paramref name="rows"/> with <paramref name="model"/> and evaluates the predictions.</summary>
    public static EvaluationSummary Evaluate(MLContext ml, ITransformer model, IDataView rows, IReadOnlyList<string> classNames, string data)
    {
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(rows), labelColumnName: "Label", scoreColumnName: "Score", predictedLabelColumnName: "PredictedLabel");
        var counts = metrics.ConfusionMatrix.Counts;
        var matrix = counts.Select(r => r.Select(v => (long)Math.Round(v)).ToArray()).ToArray();
        return new EvaluationSummary
        {
            Data = data,
            Images = matrix.Sum(r => r.Sum()),
            Accuracy = metrics.MicroAccuracy,
            MacroAccuracy = metrics.MacroAccuracy,
            LogLoss = metrics.LogLoss,
            ConfusionMatrix = matrix,
            Classes = Enumerable.Range(0, matrix.Length).Select(i => new ClassMetrics
            {
                Class = i < classNames.Count ? classNames[i] : $"class {i}",
                Precision = metrics.ConfusionMatrix.PerClassPrecision[i],
                Recall = metrics.ConfusionMatrix.PerClassRecall[i],
                Support = matrix[i].Sum(),
            }).ToArray(),
        };
    }
}
