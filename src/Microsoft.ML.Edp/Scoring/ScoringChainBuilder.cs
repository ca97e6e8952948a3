using Microsoft.ML.Data;
using Microsoft.ML.Edp.Export;

namespace Microsoft.ML.Edp.Scoring;

/// <summary>Builds the scoring pipeline out of ML.NET's own transformers, so that it saves and loads with
/// <c>mlContext.Model</c>: copy the features to the ONNX input, run ONNX Runtime on the embedded model, turn the argmax
/// into a key with the label's key values, and expose Score and PredictedLabel.</summary>
internal static class ScoringChainBuilder
{
    public static TransformerChain<ITransformer> Build(MLContext ml, byte[] onnx, EdpCompressOptions options, LabelKeyValues labels, IDataView data)
    {
        var mapping = ml.Transforms.CustomMapping(new PredictedIndexMappingFactory().GetMapping(), PredictedIndexMappingFactory.ContractName);
        var pipeline = ml.Transforms.CopyColumns(OnnxNames.Input, options.FeatureColumnName)
            .Append(ml.Transforms.ApplyOnnxModel([OnnxNames.Probabilities, OnnxNames.PredictedIndex], [OnnxNames.Input],
                new MemoryStream(onnx), options.GpuDeviceId, options.FallbackToCpu))
            .Append(mapping)
            .Append(labels.MapIndexToKey(ml, options.PredictedLabelColumnName, ClassIndexRow.ColumnName))
            .Append(ml.Transforms.CopyColumns(options.ScoreColumnName, OnnxNames.Probabilities))
            .Append(ml.Transforms.DropColumns(OnnxNames.Input, OnnxNames.Probabilities, OnnxNames.PredictedIndex, ClassIndexRow.ColumnName));
        return new TransformerChain<ITransformer>(pipeline.Fit(data).ToArray());
    }
}
