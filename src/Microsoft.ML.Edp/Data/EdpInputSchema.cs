using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Data;

/// <summary>The training columns, checked against the options: where the pixels and labels are and how many classes there are.</summary>
internal sealed class EdpInputSchema
{
    public DataViewSchema.Column Features { get; }
    public DataViewSchema.Column Label { get; }
    public int ClassCount { get; }
    /// <summary>The image shape: the options' sizes, with any left unset inferred from the feature column's size.</summary>
    public InputImageShape Shape { get; }
    public int PixelCount => Shape.Pixels;

    private EdpInputSchema(DataViewSchema.Column features, DataViewSchema.Column label, int classCount, InputImageShape shape)
        => (Features, Label, ClassCount, Shape) = (features, label, classCount, shape);

    /// <summary>Checks the data view's schema; throws an <see cref="ArgumentOutOfRangeException"/> naming the column,
    /// what was expected and what was found, as ML.NET's own estimators do. <paramref name="shape"/>, when given (the
    /// training data's, for a validation set), is the shape the features must have.</summary>
    public static EdpInputSchema Validate(DataViewSchema schema, EdpCompressOptions options, string role = "training", InputImageShape? shape = null)
    {
        shape ??= InputImageShape.Given(options);
        string expectedFeatures = InputImageShape.Expected(options, shape);

        var features = Find(schema, options.FeatureColumnName, "feature", expectedFeatures, role);
        if (features.Type is not VectorDataViewType { ItemType: var item, Size: var size } || item != NumberDataViewType.Single || size == 0
            || (shape is { } known && size != known.Pixels))
            throw Mismatch("feature", options.FeatureColumnName, expectedFeatures, features.Type, role);

        const string expectedLabel = "a key type with at least 2 classes (use MapValueToKey)";
        var label = Find(schema, options.LabelColumnName, "label", expectedLabel, role);
        if (label.Type is not KeyDataViewType key)
            throw Mismatch("label", options.LabelColumnName, expectedLabel, label.Type, role);
        if (key.Count < 2 || key.Count > int.MaxValue)
            throw Mismatch("label", options.LabelColumnName, expectedLabel, $"a key type with {key.Count} class(es)", role);

        return new EdpInputSchema(features, label, (int)key.Count, shape ?? InputImageShape.Resolve(options, size));
    }

    /// <summary>The schema-shape check behind <see cref="IEstimator{T}.GetOutputSchema"/>, where sizes are not known yet.</summary>
    public static void Validate(SchemaShape shape, EdpCompressOptions options)
    {
        string expectedFeatures = InputImageShape.Expected(options);
        if (!TryFind(shape, options.FeatureColumnName, out var features))
            throw Missing("feature", options.FeatureColumnName, expectedFeatures, "training");
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw Mismatch("feature", options.FeatureColumnName, expectedFeatures, Describe(features), "training");
        const string expectedLabel = "a key type (use MapValueToKey)";
        if (!TryFind(shape, options.LabelColumnName, out var label))
            throw Missing("label", options.LabelColumnName, expectedLabel, "training");
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw Mismatch("label", options.LabelColumnName, expectedLabel, Describe(label), "training");
    }

    /// <summary>The validation set must carry the same feature and label columns as the training set.</summary>
    public EdpInputSchema ValidateCompatible(DataViewSchema other, EdpCompressOptions options)
    {
        var v = Validate(other, options, "validation", Shape);
        if (v.ClassCount != ClassCount)
            throw Mismatch("label", options.LabelColumnName, $"a key type with {ClassCount} classes, as in the training data", v.Label.Type, "validation");
        return v;
    }

    private static string Describe(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => $"{c.ItemType}",
        SchemaShape.Column.VectorKind.Vector => $"Vector<{c.ItemType}>",
        _ => $"variable-size Vector<{c.ItemType}>",
    };

    private static bool TryFind(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        column = shape.FirstOrDefault(c => c.Name == name);
        return column.Name == name;
    }

    private static DataViewSchema.Column Find(DataViewSchema schema, string name, string kind, string expected, string role)
        => schema.GetColumnOrNull(name) ?? throw Missing(kind, name, expected, role);

    private static ArgumentOutOfRangeException Missing(string kind, string name, string expected, string role)
        => new(name, $"The {role} data has no {kind} column '{name}': expected {expected}, found no such column.");

    private static ArgumentOutOfRangeException Mismatch(string kind, string name, string expected, object found, string role)
        => new(name, $"Schema mismatch for {kind} column '{name}' in the {role} data: expected {expected}, found {found}.");
}
