namespace Microsoft.ML.Edp.Scoring;

/// <summary>The estimator's output schema shape: the input columns plus Score and PredictedLabel.</summary>
/// <remarks>SchemaShape and its columns cannot be built outside ML.NET, so the shape comes from a column copy with
/// the same kinds: Score is a known-size vector of Single like the features, PredictedLabel a key like the label.</remarks>
internal static class OutputSchemaShape
{
    public static SchemaShape Create(MLContext ml, SchemaShape input, EdpCompressOptions options)
        => ml.Transforms.CopyColumns(options.ScoreColumnName, options.FeatureColumnName)
            .Append(ml.Transforms.CopyColumns(options.PredictedLabelColumnName, options.LabelColumnName))
            .GetOutputSchema(input);
}
