using Microsoft.ML.Edp;

namespace Microsoft.ML;

/// <summary>Extension methods that add EDP compression to <see cref="TransformsCatalog"/>.</summary>
public static class EdpCatalog
{
    /// <summary>Trains and compresses an image classifier with EDP. The fitted transformer scores the pruned ONNX model.</summary>
    /// <example><code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.Transforms.CompressEdp(new EdpCompressOptions { TargetMacsRatio = 0.5 }));
    /// var model = pipeline.Fit(train);
    /// </code></example>
    public static EdpCompressEstimator CompressEdp(this TransformsCatalog catalog, EdpCompressOptions options)
        => new(catalog, options);

    /// <summary>Trains and compresses an image classifier with EDP, with default options for the rest.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="labelColumnName">The key-typed label column.</param>
    /// <param name="featureColumnName">The <c>Vector&lt;Single&gt;</c> pixel column, row-major CHW.</param>
    /// <param name="imageChannels">Image channels; null infers the image shape from the feature column's size (see <see cref="EdpCompressOptions.ImageChannels"/>).</param>
    /// <param name="imageHeight">Image height; null infers it.</param>
    /// <param name="imageWidth">Image width; null infers it.</param>
    /// <param name="scoreColumnName">The output probabilities column.</param>
    /// <param name="predictedLabelColumnName">The output predicted-label column.</param>
    public static EdpCompressEstimator CompressEdp(this TransformsCatalog catalog,
        string labelColumnName = "Label", string featureColumnName = "Features",
        int? imageChannels = null, int? imageHeight = null, int? imageWidth = null,
        string scoreColumnName = "Score", string predictedLabelColumnName = "PredictedLabel")
        => new(catalog, new EdpCompressOptions
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            ImageChannels = imageChannels,
            ImageHeight = imageHeight,
            ImageWidth = imageWidth,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
        });
}
