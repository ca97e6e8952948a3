using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Data;

/// <summary>Reads one row's pixels and 0-based class index from a cursor, and rejects rows training cannot use.</summary>
internal sealed class ImageRowReader
{
    private readonly DataViewRowCursor _cursor;
    private readonly ValueGetter<VBuffer<float>> _features;
    private readonly Func<ulong> _label;
    private readonly string _featureName, _labelName;
    private VBuffer<float> _buffer;

    public ImageRowReader(DataViewRowCursor cursor, EdpInputSchema schema)
    {
        _cursor = cursor;
        _features = cursor.GetGetter<VBuffer<float>>(schema.Features);
        _label = KeyGetter(cursor, schema.Label);
        _featureName = schema.Features.Name;
        _labelName = schema.Label.Name;
    }

    /// <summary>Copies the current row's pixels into <paramref name="pixels"/> and returns its class index.</summary>
    /// <exception cref="InvalidOperationException">A pixel is NaN or infinite, or the label is missing.</exception>
    public int Read(Span<float> pixels)
    {
        _features(ref _buffer);
        _buffer.CopyTo(pixels);
        for (int i = 0; i < pixels.Length; i++)
        {
            if (!float.IsFinite(pixels[i]))
                throw new InvalidOperationException(
                    $"Feature column '{_featureName}' holds {pixels[i]} at index {i} of row {_cursor.Position}: expected finite pixel values.");
        }
        ulong key = _label();
        if (key == 0)
            throw new InvalidOperationException($"Label column '{_labelName}' is missing (key value 0) in row {_cursor.Position}: expected a class.");
        return (int)(key - 1);
    }

    private static Func<ulong> KeyGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        switch (column.Type.RawType)
        {
            case var t when t == typeof(byte): { var g = cursor.GetGetter<byte>(column); byte v = 0; return () => { g(ref v); return v; }; }
            case var t when t == typeof(ushort): { var g = cursor.GetGetter<ushort>(column); ushort v = 0; return () => { g(ref v); return v; }; }
            case var t when t == typeof(uint): { var g = cursor.GetGetter<uint>(column); uint v = 0; return () => { g(ref v); return v; }; }
            default: { var g = cursor.GetGetter<ulong>(column); ulong v = 0; return () => { g(ref v); return v; }; }
        }
    }
}
