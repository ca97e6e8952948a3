using Microsoft.ML.Data;

namespace Microsoft.ML.Edp;

/// <summary>Scores images with the compressed ONNX model through ONNX Runtime, adding Score and PredictedLabel. Its
/// save writes a chain of ML.NET's own transformers (which loads back as a <see cref="TransformerChain{T}"/>), with
/// the ONNX model and its compression report embedded.</summary>
public sealed class EdpCompressTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    private readonly byte[] _onnx;

    internal EdpCompressTransformer(TransformerChain<ITransformer> chain, byte[] onnx, EdpCompressionReport report)
        => (_chain, _onnx, Report) = (chain, onnx, report);

    /// <summary>What training and Pruning &amp; Merging did: ranks, widths, costs, accuracies and timings.</summary>
    public EdpCompressionReport Report { get; }

    /// <summary>The compressed model as ONNX bytes (IR 8, opset 13), with the report in its metadata_props.</summary>
    public byte[] GetOnnxModel() => (byte[])_onnx.Clone();

    /// <summary>Writes the ONNX model to <paramref name="path"/> atomically: a temporary file, then a rename.</summary>
    public void SaveOnnx(string path) => AtomicFile.Write(path, _onnx);

    /// <summary>The scoring pipeline of ML.NET transformers that this transformer runs and saves.</summary>
    public TransformerChain<ITransformer> ScoringChain => _chain;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    /// <summary>Releases the ONNX Runtime sessions.</summary>
    public void Dispose() => _chain.Dispose();
}
