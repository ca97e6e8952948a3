using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Edp.Tests;

/// <summary>A small, fast fit through the public API on the first 1,000 images of the embedded subset: a CustomVgg of
/// widths 16,16,32,32 with strong penalties and kept counts in multiples of 8 on every CPU, so that the sparsity pattern freezes (at 60% of training) within the run.</summary>
internal static class TinyRun
{
    public const int Epochs = 3;
    public const int BatchSize = 50;
    public const int Rows = 1000;
    public const int BatchesPerEpoch = Rows / BatchSize;

    public static EdpCompressOptions Options(int threads = 1) => new()
    {
        Architecture = EdpArchitecture.CustomVgg, ConvWidths = [16, 16, 32, 32], Epochs = Epochs, BatchSize = BatchSize,
        Seed = 7, NumberOfThreads = threads, TargetMacsRatio = null, RankPenalty = 0.3, ChannelPenalty = 0.3, PenaltyHoldFraction = 0.6,
        ShuffleBufferSize = 400, BatchNormRecalibrationBatches = 5, ChannelMultiple = 8,
        // Dozens of tests fit this run for what training does; the latency proof has its test in EdpPipelineTests.
        MeasureLatency = false,
    };

    public static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(TestData.Train.Take(Rows).ToList());

    /// <summary>Fits with <paramref name="options"/> and returns the fitted EDP transformer.</summary>
    public static EdpCompressTransformer Fit(EdpCompressOptions options, MLContext? ml = null)
    {
        ml ??= new MLContext(1);
        return ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options)).Fit(Data(ml)).LastTransformer;
    }

    /// <summary>The model without its metadata_props, which carry the report's wall-clock timings.</summary>
    public static byte[] WithoutMetadata(byte[] onnx)
    {
        var model = ModelProto.Parser.ParseFrom(onnx);
        model.MetadataProps.Clear();
        return model.ToByteArray();
    }

    /// <summary>Largest |a - b| over all initializers; fails if names or shapes differ.</summary>
    public static double MaxWeightDifference(byte[] a, byte[] b)
    {
        var x = ModelProto.Parser.ParseFrom(a).Graph.Initializer.ToDictionary(t => t.Name);
        var y = ModelProto.Parser.ParseFrom(b).Graph.Initializer.ToDictionary(t => t.Name);
        Xunit.Assert.Equal(x.Keys.Order(), y.Keys.Order());
        double max = 0;
        foreach (var (name, t) in x)
        {
            Xunit.Assert.Equal(t.Dims, y[name].Dims);
            var u = Floats(t);
            var v = Floats(y[name]);
            for (int i = 0; i < u.Length; i++)
                max = Math.Max(max, Math.Abs(u[i] - v[i]));
        }
        return max;
    }

    private static float[] Floats(TensorProto t) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
}
