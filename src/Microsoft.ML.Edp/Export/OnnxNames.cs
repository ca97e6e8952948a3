namespace Microsoft.ML.Edp.Export;

/// <summary>Names of the exported model's inputs and outputs.</summary>
public static class OnnxNames
{
    /// <summary>The input: float [batch, C, H, W] pixels.</summary>
    public const string Input = "pixels";
    /// <summary>Class logits, float [batch, K].</summary>
    public const string Logits = "logits";
    /// <summary>Softmax of the logits, float [batch, K].</summary>
    public const string Probabilities = "probabilities";
    /// <summary>Argmax class index, int64 [batch, 1].</summary>
    public const string PredictedIndex = "predicted_index";
    /// <summary>The metadata_props key that holds the compression report as JSON.</summary>
    public const string ReportMetadataKey = "edp.report";
}
