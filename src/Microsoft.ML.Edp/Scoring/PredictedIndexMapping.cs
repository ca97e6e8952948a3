using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Edp.Scoring;

/// <summary>Input row of <see cref="PredictedIndexMappingFactory"/>: the ONNX argmax output.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PredictedIndexRow
{
    /// <summary>The argmax class index, as ONNX Runtime returns it: a vector of one Int64.</summary>
    [ColumnName(OnnxNames.PredictedIndex), VectorType(1)]
    public long[] PredictedIndex { get; set; } = [];
}

/// <summary>Output row of <see cref="PredictedIndexMappingFactory"/>: the class index as a scalar.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ClassIndexRow
{
    /// <summary>Name of the scalar class-index column.</summary>
    public const string ColumnName = "edp_class_index";

    /// <summary>The 0-based class index.</summary>
    [ColumnName(ColumnName)]
    public uint ClassIndex { get; set; }
}

/// <summary>Turns ONNX Runtime's [1]-vector argmax into a scalar, so a value mapping can make it a key. Registered by
/// contract name so that a saved model loads again (see <see cref="EdpModel.Load(MLContext, string, out DataViewSchema)"/>).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
[CustomMappingFactoryAttribute(ContractName)]
public sealed class PredictedIndexMappingFactory : CustomMappingFactory<PredictedIndexRow, ClassIndexRow>
{
    /// <summary>The contract name stored in saved models.</summary>
    public const string ContractName = "Microsoft.ML.Edp.PredictedIndex";

    /// <inheritdoc />
    public override Action<PredictedIndexRow, ClassIndexRow> GetMapping() => Map;

    internal static void Map(PredictedIndexRow input, ClassIndexRow output) => output.ClassIndex = (uint)input.PredictedIndex[0];
}
