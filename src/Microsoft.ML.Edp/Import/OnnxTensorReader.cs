using System.Runtime.InteropServices;
using Microsoft.ML.Edp.Network;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.Edp.Import;

/// <summary>Decodes ONNX initializers and Constant values. A declared shape is checked against the bytes actually
/// present before anything is allocated, so a corrupt file can never make the importer allocate more than it holds.</summary>
internal static class OnnxTensorReader
{
    /// <summary>A FLOAT tensor as a dense tensor of its declared shape; DOUBLE, FLOAT16 and BFLOAT16 weights are converted
    /// to float (exactly, but for doubles).</summary>
    public static DenseTensor Floats(TensorProto t, Func<string, Exception> fail)
    {
        long count = CheckedCount(t, fail);
        float[] values = (DataType)t.DataType switch
        {
            DataType.Float when t.RawData.Length > 0 => FromRaw<float>(t, count, sizeof(float), fail),
            DataType.Float => Exact(t, t.FloatData, count, "float_data", fail).ToArray(),
            DataType.Double when t.RawData.Length > 0 => FromRaw<double>(t, count, sizeof(double), fail).Select(v => (float)v).ToArray(),
            DataType.Double => Exact(t, t.DoubleData, count, "double_data", fail).Select(v => (float)v).ToArray(),
            // Half-precision values keep their 16 bits in raw_data, or one to an int32_data entry.
            DataType.Float16 when t.RawData.Length > 0 => FromRaw<Half>(t, count, 2, fail).Select(v => (float)v).ToArray(),
            DataType.Float16 => Exact(t, t.Int32Data, count, "int32_data", fail).Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
            DataType.Bfloat16 when t.RawData.Length > 0 => FromRaw<ushort>(t, count, 2, fail).Select(FromBfloat16).ToArray(),
            DataType.Bfloat16 => Exact(t, t.Int32Data, count, "int32_data", fail).Select(v => FromBfloat16((ushort)v)).ToArray(),
            _ => throw fail($"tensor '{t.Name}' has element type {TypeName(t.DataType)}; weights must be FLOAT, DOUBLE, FLOAT16 or BFLOAT16"),
        };
        return new DenseTensor([.. t.Dims], values);
    }

    /// <summary>An INT64, INT32 or BOOL tensor (Reshape's target shape, Dropout's training_mode) as a flat array.</summary>
    public static long[] Integers(TensorProto t, Func<string, Exception> fail)
    {
        long count = CheckedCount(t, fail);
        return (DataType)t.DataType switch
        {
            DataType.Int64 when t.RawData.Length > 0 => FromRaw<long>(t, count, sizeof(long), fail),
            DataType.Int64 => Exact(t, t.Int64Data, count, "int64_data", fail).ToArray(),
            DataType.Int32 when t.RawData.Length > 0 => FromRaw<int>(t, count, sizeof(int), fail).Select(v => (long)v).ToArray(),
            DataType.Int32 => Exact(t, t.Int32Data, count, "int32_data", fail).Select(v => (long)v).ToArray(),
            DataType.Bool when t.RawData.Length > 0 => FromRaw<byte>(t, count, sizeof(byte), fail).Select(v => (long)v).ToArray(),
            DataType.Bool => Exact(t, t.Int32Data, count, "int32_data", fail).Select(v => (long)v).ToArray(),
            _ => throw fail($"tensor '{t.Name}' has element type {TypeName(t.DataType)}; an INT64, INT32 or BOOL tensor is expected"),
        };
    }

    /// <summary>bfloat16 is the upper half of a float32.</summary>
    private static float FromBfloat16(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>The element count the dims declare, refusing negative dims, external data and counts no file can hold.</summary>
    private static long CheckedCount(TensorProto t, Func<string, Exception> fail)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw fail($"tensor '{t.Name}' keeps its data in an external file, which is read only for initializers of a model given by its path (OnnxModelPath)");
        if (t.Segment is not null)
            throw fail($"tensor '{t.Name}' is a segment of a larger tensor, which the importer does not support");
        long count = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0)
                throw fail($"tensor '{t.Name}' declares a negative dimension {d}");
            // The bytes present bound every valid count far below this, so a larger product is corrupt, not big.
            if (d > int.MaxValue || (count = count * d) > int.MaxValue)
                throw fail($"tensor '{t.Name}' declares dims [{string.Join(", ", t.Dims)}], more elements than any model file holds");
        }
        return count;
    }

    private static T[] FromRaw<T>(TensorProto t, long count, int size, Func<string, Exception> fail) where T : struct
    {
        if (t.RawData.Length != count * size)
            throw fail($"tensor '{t.Name}' declares dims [{string.Join(", ", t.Dims)}] ({count} values, {count * size} bytes) but holds {t.RawData.Length} bytes of raw_data");
        if (!BitConverter.IsLittleEndian)
            throw fail($"tensor '{t.Name}' keeps little-endian raw_data, which the importer reads on little-endian machines only");
        return MemoryMarshal.Cast<byte, T>(t.RawData.Span).ToArray();
    }

    private static IEnumerable<T> Exact<T>(TensorProto t, IReadOnlyCollection<T> data, long count, string field, Func<string, Exception> fail)
        => data.Count == count ? data : throw fail($"tensor '{t.Name}' declares dims [{string.Join(", ", t.Dims)}] ({count} values) but holds {data.Count} in {field}");

    private static string TypeName(int type) => Enum.IsDefined(typeof(DataType), type) ? ((DataType)type).ToString().ToUpperInvariant() : $"#{type}";
}
