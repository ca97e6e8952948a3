using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Samples;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Inference cost of the plain and the compressed model written by the compression benchmark: ONNX Runtime
/// latency at batch 1 and 64, and throughput through ML.NET's Transform + cursor and PredictionEngine.</summary>
public static class InferenceBenchmark
{
    // The saved pipeline starts with MapValueToKey("Label"), so scoring rows carry a label column, as Model Builder's do.
    internal sealed class Input
    {
        [VectorType(FashionMnistImage.PixelCount)] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    internal sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    public sealed record Latency(string Model, int Batch, double MedianMs, double P95Ms, double ImagesPerSecond);

    public sealed record Throughput(string Model, string Path, double ImagesPerSecond);

    public static void Run(BenchmarkArguments args)
    {
        var name = CompressionBenchmark.ResultsName(args);
        var modelDir = Path.Combine(args.ResultsDirectory, "runs", name, "models");
        // The models of the first seed.
        var models = CompressionBenchmark.Configs(args).Select(c => c.Name).ToArray();
        var images = FashionMnist.Load(args.DataDirectory, "t10k");
        int iterations = args.Quick ? 50 : 400;

        var latencies = new List<Latency>();
        var throughputs = new List<Throughput>();
        foreach (var model in models)
        {
            var bytes = File.ReadAllBytes(Path.Combine(modelDir, model + "-seed1.onnx"));
            foreach (var batch in new[] { 1, 64 })
                latencies.Add(OrtLatency(model, bytes, images, batch, iterations));
            throughputs.Add(new(model, "raw ONNX Runtime, batch 1", OrtThroughput(bytes, images)));
            throughputs.AddRange(MlNetThroughput(model, Path.Combine(modelDir, model + "-seed1.zip"), images));
        }
        var report = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".json")));
        var macs = report.GetProperty("results").EnumerateArray().Where(r => r.GetProperty("Config").GetProperty("Seed").GetInt32() == 1).ToDictionary(r => r.GetProperty("Config").GetProperty("Name").GetString()!, r => r.GetProperty("Macs").GetInt64());
        Write(args, latencies, throughputs, macs);
    }

    private static Latency OrtLatency(string model, byte[] bytes, IReadOnlyList<FashionMnistImage> images, int batch, int iterations)
    {
        using var session = new InferenceSession(bytes);
        var input = new DenseTensor<float>(images.Take(batch).SelectMany(i => i.Features).ToArray(), [batch, 1, 28, 28]);
        var inputs = new[] { NamedOnnxValue.CreateFromTensor("pixels", input) };
        for (int i = 0; i < 20; i++)
            using (session.Run(inputs, ["probabilities"])) { }
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using (session.Run(inputs, ["probabilities"])) { }
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        double median = times[iterations / 2];
        return new(model, batch, median, times[(int)(iterations * 0.95)], batch * 1000 / median);
    }

    private static double OrtThroughput(byte[] bytes, IReadOnlyList<FashionMnistImage> images)
    {
        using var session = new InferenceSession(bytes);
        var clock = Stopwatch.StartNew();
        foreach (var image in images)
        {
            var input = new DenseTensor<float>(image.Features, [1, 1, 28, 28]);
            using (session.Run([NamedOnnxValue.CreateFromTensor("pixels", input)], ["probabilities"])) { }
        }
        return images.Count / clock.Elapsed.TotalSeconds;
    }

    private static IEnumerable<Throughput> MlNetThroughput(string model, string zip, IReadOnlyList<FashionMnistImage> images)
    {
        var ml = new MLContext(1);
        var transformer = EdpModel.Load(ml, zip, out _);
        var data = ml.Data.LoadFromEnumerable(images.Select(i => new Input { Features = i.Features }));
        var warm = transformer.Transform(data).GetColumn<float[]>("Score").Take(100).Count();
        var clock = Stopwatch.StartNew();
        var scored = transformer.Transform(data);
        using (var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == "Score")))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            VBuffer<float> score = default;
            while (cursor.MoveNext())
                getter(ref score);
        }
        yield return new(model, "ML.NET Transform + cursor", images.Count / clock.Elapsed.TotalSeconds);

        using var engine = ml.Model.CreatePredictionEngine<Input, Output>(transformer);
        var row = new Input();
        clock.Restart();
        foreach (var image in images)
        {
            row.Features = image.Features;
            engine.Predict(row);
        }
        yield return new(model, "ML.NET PredictionEngine", images.Count / clock.Elapsed.TotalSeconds);
    }

    private static void Write(BenchmarkArguments args, List<Latency> latencies, List<Throughput> throughputs, Dictionary<string, long> macs)
    {
        var c = CultureInfo.InvariantCulture;
        var machine = MachineInfo.Current();
        double Median(string model, int batch) => latencies.First(l => l.Model == model && l.Batch == batch).MedianMs;
        double Rate(string model, string path) => throughputs.First(t => t.Model == model && t.Path.StartsWith(path, StringComparison.Ordinal)).ImagesPerSecond;

        var md = new StringBuilder();
        md.AppendLine(c, $"# Inference benchmark: {args.Architecture} on Fashion-MNIST{(args.Quick ? " (quick)" : "")}").AppendLine();
        md.AppendLine(c, $"Measured {machine.Date} on {machine.Cores} cores ({machine.Cpu}), {machine.Runtime}; ONNX Runtime with its default thread settings for every path. Latency after 20 warm-up runs.").AppendLine();
        md.AppendLine("| model | batch | median ms | p95 ms | images/s |").AppendLine("|---|---:|---:|---:|---:|");
        foreach (var l in latencies)
            md.AppendLine(c, $"| {l.Model} | {l.Batch} | {l.MedianMs:F3} | {l.P95Ms:F3} | {l.ImagesPerSecond:F0} |");
        md.AppendLine().AppendLine("| model | path | images/s |").AppendLine("|---|---|---:|");
        foreach (var t in throughputs)
            md.AppendLine(c, $"| {t.Model} | {t.Path} | {t.ImagesPerSecond:F0} |");
        md.AppendLine().AppendLine("## Targets").AppendLine().AppendLine("| target | measured | result |").AppendLine("|---|---|---|");
        var targets = new List<CompressionBenchmark.Target>();
        foreach (var model in macs.Keys.Where(k => k != "plain"))
        {
            double macsFactor = (double)macs["plain"] / macs[model];
            double speedup = Median("plain", 64) / Median(model, 64);
            targets.Add(new($"{model}: batch-64 speed-up >= 0.8x the MACs reduction ({macsFactor:F2}x)", $"{speedup:F2}x ({speedup / macsFactor:F2} of it)", speedup >= 0.8 * macsFactor));
        }
        foreach (var model in macs.Keys)
        {
            double mlnet = Rate(model, "ML.NET Transform"), ort = Rate(model, "raw ONNX Runtime");
            targets.Add(new($"{model}: ML.NET Transform throughput >= raw ORT at batch 1", $"{mlnet:F0} vs {ort:F0} images/s ({mlnet / ort:F2}x)", mlnet >= ort));
        }
        foreach (var t in targets)
            md.AppendLine(c, $"| {t.Name} | {t.Measured} | {(t.Pass ? "pass" : "**miss**")} |");
        var name = CompressionBenchmark.ResultsName("inference", args);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), md.ToString());
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"),
            JsonSerializer.Serialize(new { machine, latencies, throughputs, targets }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(md);
    }
}
