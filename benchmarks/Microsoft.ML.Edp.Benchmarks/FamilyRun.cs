using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Samples;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>What the families benchmark does with one model: the import and its faithfulness (in the benchmark's
/// process), and the short compression (in a child process of its own, <c>families-run</c>).</summary>
public static class FamilyRun
{
    /// <summary>Whether the importer took the model, its refusal if not, and the largest difference between the
    /// imported network's output (compressed-aware blocks, as a fit starts from) and ONNX Runtime's on the file.</summary>
    public sealed record Import(bool Imported, string? Refusal, double? MaxDifference = null, double? LargestOutput = null, int Layers = 0);

    /// <summary>What the fit measured; <see cref="Failure"/> names the exception where it failed instead.</summary>
    public sealed record Fit(string Settings, double TestAccuracy = 0, double TestAccuracyBeforePruning = 0, long MacsBefore = 0, long MacsAfter = 0, long ParamsBefore = 0, long ParamsAfter = 0,
        double? Speedup1 = null, double? Speedup64 = null, double? PredictedSpeedup1 = null, double? PredictedSpeedup64 = null,
        double FitSeconds = 0, double LearningRate = 0, string Backend = "", double ExportDifference = 0, string? Failure = null);

    /// <summary>Imports <paramref name="bytes"/> at the benchmark's image size and compares its output with ONNX
    /// Runtime's on the file (<see cref="ScoresOf"/>), for <paramref name="images"/> encoded test images.</summary>
    public static Import CheckImport(byte[] bytes, string name, int size, float[] images, int threads)
    {
        ImportedNetwork net;
        OnnxModelHeader header;
        try
        {
            header = OnnxModelReader.Read(bytes, name, (3, size, size));
            net = OnnxGraphImporter.Import(bytes, name, (3, size, size));
        }
        catch (EdpOnnxImportException e)
        {
            return new Import(false, e.Message);
        }
        if (net.OutputShape.Length != 1)
            return new Import(true, null, Layers: net.Layers.Count);
        int count = images.Length / (3 * size * size);
        float[] expected;
        try
        {
            string scores = ScoresOf(header.Graph);
            using var scorer = new OnnxScorer(Tests.OnnxModelBuilder.WithOutput(bytes, scores), header.InputName, scores);
            expected = scorer.Logits(images, count, 3, size, size);
        }
        catch (OnnxRuntime.OnnxRuntimeException e)
        {
            // A file with a fixed batch of 1, say: the import stands, its faithfulness is not measured.
            return new Import(true, $"ONNX Runtime did not run the file on {count} images: {e.Message}", Layers: net.Layers.Count);
        }
        var graph = new NetworkGraph(3, size, size, net.Layers, net.Output, (int)net.OutputShape[0]);
        // TorchSharp's side is computed by a backend that this machine computes right, as a fit checks it.
        BackendCheck.ForThisProcess(threads).Ensure(ProbeShape.Of(graph, [count]), CPU, _ => { }, Console.WriteLine);
        using var scope = NewDisposeScope();
        using var edp = new EdpNet(graph);
        edp.eval();
        using var _ = no_grad();
        var actual = edp.forward(tensor(images, [count, 3, size, size])).data<float>().ToArray();
        if (actual.Length != expected.Length)
            return new Import(true, $"the imported network computes {actual.Length / count} values an image, ONNX Runtime {expected.Length / count}", Layers: net.Layers.Count);
        return new Import(true, null, expected.Zip(actual, (e, a) => (double)Math.Abs(e - a)).Max(), expected.Max(v => (double)Math.Abs(v)), net.Layers.Count);
    }

    /// <summary>The value the imported network outputs: the file's first output, or where that is a Softmax, LogSoftmax
    /// or ArgMax of the class scores (which the importer drops, as in EDP's own exports), the scores they read.</summary>
    private static string ScoresOf(Onnx.GraphProto graph)
    {
        string name = graph.Output[0].Name;
        while (graph.Node.FirstOrDefault(n => n.Output.Contains(name)) is { OpType: "Softmax" or "LogSoftmax" or "ArgMax" } node)
            name = node.Input[0];
        return name;
    }

    /// <summary>The child's side: <c>model-path scratch stem arguments-json compress</c>, "scratch" true for a model of
    /// random weights, "compress" false for the plain fit; writes <c>stem.json</c> (a <see cref="Fit"/>), and the model
    /// to <c>stem.onnx</c>.</summary>
    public static void RunOne(string[] argv)
    {
        string path = argv[0], stem = argv[2];
        bool scratch = bool.Parse(argv[1]), compress = bool.Parse(argv[4]);
        var data = FamiliesBenchmark.Prepare(JsonSerializer.Deserialize<BenchmarkArguments>(argv[3])!);
        Fit fit;
        try
        {
            fit = FitOne(path, scratch, compress, data, stem + ".onnx");
        }
        catch (Exception e)
        {
            // The table records why a family did not compress; the next family still runs.
            fit = new Fit(data.Settings, Failure: $"{e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
        }
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(fit));
    }

    /// <summary>One fit: with <paramref name="compress"/> false, the plain baseline, the same network, data, steps and
    /// learning rate with plain layers, no budget, no Pruning &amp; Merging and no latency proof.</summary>
    private static Fit FitOne(string path, bool scratch, bool compress, FamiliesBenchmark.Data data, string onnxPath)
    {
        var args = data.Args;
        var ml = new MLContext(seed: 1);
        SingleRun.LogFit(ml, Path.GetFileNameWithoutExtension(path));
        var options = new EdpCompressOptions
        {
            OnnxModelPath = path, ImageChannels = 3, ImageHeight = args.ImageSize, ImageWidth = args.ImageSize,
            Epochs = args.Epochs, BatchSize = FamiliesBenchmark.BatchSize, NumberOfThreads = args.Threads, Seed = 1,
            // Random weights train at the from-scratch rate; a file's trained weights at the import's default.
            LearningRate = scratch ? EdpSettings.ScratchLearningRate : null,
            Compress = compress, MeasureLatency = compress, LearningRateWarmupSteps = args.WarmupSteps,
        };
        var train = RgbImages.Load(ml, data.Train, args.ImageSize, PixelEncoding.ImageNet);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label");
        // The test set as the fit's validation set: the report then has the trained network's accuracy before Pruning &
        // Merging (TorchSharp) and the exported model's after it (ONNX Runtime), which is the test accuracy.
        options.ValidationSet = toKey.Fit(train).Transform(RgbImages.Load(ml, data.Test, args.ImageSize, PixelEncoding.ImageNet));
        var clock = Stopwatch.StartNew();
        var fitted = toKey.Append(ml.Transforms.CompressEdp(options)).Fit(train);
        double seconds = clock.Elapsed.TotalSeconds;
        fitted.LastTransformer.SaveOnnx(onnxPath);
        var report = fitted.LastTransformer.Report;
        EdpBatchLatency? At(int batch) => report.Latency?.Batches.FirstOrDefault(b => b.Batch == batch);
        return new Fit(data.Settings, report.ValidationAccuracyAfterPruning!.Value, report.ValidationAccuracyBeforePruning!.Value, report.MacsBefore, report.MacsAfter, report.ParamsBefore, report.ParamsAfter,
            At(1)?.MeasuredSpeedup, At(64)?.MeasuredSpeedup, At(1)?.PredictedSpeedup, At(64)?.PredictedSpeedup,
            seconds, EdpSettings.From(options).Schedule.LearningRate, report.Backend ?? "-", report.OnnxMaxAbsDifference);
    }

    /// <summary>The first <paramref name="count"/> test images, encoded as the families read them, one after another.</summary>
    public static float[] Images(IReadOnlyList<FashionMnistImage> test, int count, int size)
        => test.Take(count).SelectMany(i => PixelEncoding.ImageNet.Encode(i, size)).ToArray();
}
