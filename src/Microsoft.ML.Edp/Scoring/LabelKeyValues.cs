using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Scoring;

/// <summary>The label column's key values (class names), read once at fit time, and the value mapping that turns a
/// 0-based class index into a key with the same values, so PredictedLabel maps back to the original labels.</summary>
internal sealed class LabelKeyValues
{
    private readonly Func<MLContext, string, string, IEstimator<ITransformer>> _mapIndexToKey;

    public IReadOnlyList<string> Names { get; }

    private LabelKeyValues(IReadOnlyList<string> names, Func<MLContext, string, string, IEstimator<ITransformer>> map)
        => (Names, _mapIndexToKey) = (names, map);

    public IEstimator<ITransformer> MapIndexToKey(MLContext ml, string output, string input) => _mapIndexToKey(ml, output, input);

    /// <summary>Reads the key values of <paramref name="label"/>; without them, the classes are named by their 0-based index.</summary>
    public static LabelKeyValues Read(DataViewSchema.Column label, int classCount)
    {
        var type = label.Annotations.Schema.GetColumnOrNull("KeyValues")?.Type as VectorDataViewType;
        if (type is null)
            return FromValues(Enumerable.Range(0, classCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        var read = typeof(LabelKeyValues).GetMethod(nameof(ReadTyped), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(type.ItemType.RawType);
        return (LabelKeyValues)read.Invoke(null, [label])!;
    }

    private static LabelKeyValues ReadTyped<T>(DataViewSchema.Column label)
    {
        VBuffer<T> values = default;
        label.GetKeyValues(ref values);
        var dense = values.DenseValues().ToArray();
        return typeof(T) == typeof(ReadOnlyMemory<char>)
            ? FromValues(dense.Select(v => v!.ToString()!).ToArray())
            : FromValues(dense);
    }

    // treatValuesAsKeyType numbers the keys in the order the values first appear; the pairs are in index order, so
    // key i+1 is class i, as in the label.
    private static LabelKeyValues FromValues<T>(T[] values)
    {
        var pairs = values.Select((v, i) => new KeyValuePair<uint, T>((uint)i, v)).ToArray();
        return new LabelKeyValues(values.Select(v => v!.ToString()!).ToArray(),
            (ml, output, input) => ml.Transforms.Conversion.MapValue(output, pairs, input, treatValuesAsKeyType: true));
    }
}
