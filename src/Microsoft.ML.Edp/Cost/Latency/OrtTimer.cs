using System.Diagnostics;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>One ONNX model in one session, fed fixed batches of random images, timed run by run.</summary>
internal sealed class OrtTimer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly int[] _imageShape;
    private readonly Dictionary<int, NamedOnnxValue[]> _inputs = new();

    public OrtTimer(byte[] model, int channels, int height, int width)
    {
        _session = OrtSessions.Create(model, spinning: false);
        _imageShape = [channels, height, width];
    }

    /// <summary>Milliseconds of one run at <paramref name="batch"/>.</summary>
    public double Run(int batch)
    {
        if (!_inputs.TryGetValue(batch, out var inputs))
            _inputs[batch] = inputs = [NamedOnnxValue.CreateFromTensor(OnnxNames.Input, RandomImages(batch))];
        long start = Stopwatch.GetTimestamp();
        using (_session.Run(inputs, [OnnxNames.Probabilities])) { }
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>The runs of each timer at <paramref name="batch"/>, over <paramref name="rounds"/> rounds in which every
    /// timer runs once in turn, so that a busy spell on a shared machine slows all of them alike.</summary>
    public static double[][] Interleaved(IReadOnlyList<OrtTimer> timers, int batch, int rounds, int warmup = 3)
    {
        foreach (var t in timers)
            for (int i = 0; i < warmup; i++)
                t.Run(batch);
        var times = timers.Select(_ => new double[rounds]).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int t = 0; t < timers.Count; t++)
                times[t][r] = timers[t].Run(batch);
        return times;
    }

    /// <summary>Each timer's median run of <see cref="Interleaved"/>.</summary>
    public static double[] InterleavedMedians(IReadOnlyList<OrtTimer> timers, int batch, int rounds)
        => Interleaved(timers, batch, rounds).Select(t => Median(t)).ToArray();

    /// <summary>Runs a timing takes at <paramref name="batch"/>: more where a run is short and noise is relatively large.</summary>
    public static int RunsFor(int batch) => batch <= 8 ? 21 : 7;

    private DenseTensor<float> RandomImages(int batch)
    {
        var random = new Random(batch);
        var pixels = new float[batch * _imageShape[0] * _imageShape[1] * _imageShape[2]];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = (float)random.NextDouble();
        return new DenseTensor<float>(pixels, [batch, .. _imageShape]);
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    public void Dispose() => _session.Dispose();
}
