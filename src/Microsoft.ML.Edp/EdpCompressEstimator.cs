using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Scoring;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Edp;

/// <summary>Trains an image classifier with EDP (compressed-aware blocks, proximal group sparsity, Pruning &amp;
/// Merging) and returns a transformer that scores the pruned ONNX model with ONNX Runtime.</summary>
/// <remarks>Create it with <see cref="EdpCatalog.CompressEdp(TransformsCatalog, EdpCompressOptions)"/>.</remarks>
public sealed class EdpCompressEstimator : IEstimator<EdpCompressTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly MLContext _ml;
    private readonly EdpCompressOptions _options;

    /// <summary>Creates the estimator on <paramref name="ml"/>, whose log receives the training progress.</summary>
    public EdpCompressEstimator(MLContext ml, EdpCompressOptions options) : this((IHostEnvironment)ml, options) { }

    internal EdpCompressEstimator(TransformsCatalog catalog, EdpCompressOptions options) : this(EnvironmentOf(catalog), options) { }

    private EdpCompressEstimator(IHostEnvironment env, EdpCompressOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        EdpOptionsValidation.Validate(options);
        _env = env;
        // ML.NET's transform catalogs need an MLContext; the scoring chain's transformers keep no tie to it.
        _ml = env as MLContext ?? new MLContext(options.Seed);
        _options = options;
    }

    /// <summary>Trains and compresses the network on <paramref name="input"/>, then builds the scoring chain.</summary>
    public EdpCompressTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var schema = EdpInputSchema.Validate(input.Schema, _options);
        var validationSchema = _options.ValidationSet is { } validation ? schema.ValidateCompatible(validation.Schema, _options) : null;
        var labels = LabelKeyValues.Read(schema.Label, schema.ClassCount);

        var host = _env.Register("EdpCompress");
        using var channel = host.Start("Fit");
        var result = new EdpCompression(_options,
            m => channel.Info(MessageSensitivity.Unknown, m),
            m => channel.Warning(MessageSensitivity.Unknown, m)).Run(input, schema, validationSchema, labels.Names);
        var chain = ScoringChainBuilder.Build(_ml, result.Onnx, _options, labels, input);
        return new EdpCompressTransformer(chain, result.Onnx, result.Report);
    }

    /// <summary>Checks the input columns and returns the schema with Score and PredictedLabel added.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        EdpInputSchema.Validate(inputSchema, _options);
        return OutputSchemaShape.Create(_ml, inputSchema, _options);
    }

    // ML.NET keeps a catalog's environment internal; it is the environment of the MLContext the user called
    // CompressEdp on, so progress reaches that context's Log. Should a future ML.NET move it, training still works
    // and logs to a private context.
    private static IHostEnvironment EnvironmentOf(TransformsCatalog catalog)
    {
        var property = typeof(TransformsCatalog).GetInterface("IInternalCatalog")?.GetProperty("Environment");
        return property?.GetValue(catalog) as IHostEnvironment ?? new MLContext();
    }
}
