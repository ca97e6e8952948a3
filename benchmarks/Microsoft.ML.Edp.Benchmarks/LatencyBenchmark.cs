using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Does the compressed model score faster? Plain training, the block-aligned narrow net from scratch, EDP at the
/// MACs default and EDP under latency budgets, over seeds, each fit in its own process (as the compression benchmark
/// runs them); then every saved model is timed in this process: ONNX Runtime at batch 1 and 64, and ML.NET's
/// PredictionEngine one image at a time, all models interleaved round by round so that a busy spell on a shared machine
/// slows all of them alike. Speed-ups are taken per seed against that seed's plain model, then averaged.</summary>
public static class LatencyBenchmark
{
    /// <summary>Latency budgets: a fraction of the plain network's latency at batch 1 (the PredictionEngine's batch),
    /// and half of it at batch 64.</summary>
    public static readonly RunConfig LatencyBatch1 = new("edp-latency-0.7") { TargetLatencyRatio = 0.7 };
    public static readonly RunConfig LatencyBatch64 = new("edp-latency-0.5-b64") { TargetLatencyRatio = 0.5, LatencyBatchSize = 64 };

    public static RunConfig[] Configs(BenchmarkArguments args)
    {
        RunConfig[] runs = [new("plain", Compress: false), .. CompressionBenchmark.Narrow(args.Architecture).Take(1), CompressionBenchmark.Half, LatencyBatch1, LatencyBatch64];
        return CompressionBenchmark.ForInvocation(runs, args);
    }

    /// <summary>One model's timings: ONNX Runtime medians at batch 1 and 64, PredictionEngine images per second.</summary>
    public sealed record Timing(string Name, int Seed, double Batch1Ms, double Batch64Ms, double EngineImagesPerSecond);

    public static void Run(BenchmarkArguments args)
    {
        var name = CompressionBenchmark.ResultsName("latency", args);
        var workDir = Path.Combine(args.ResultsDirectory, "runs", name);
        var results = Enumerable.Range(1, args.Seeds).SelectMany(seed => Configs(args).Select(c => c with { Seed = seed }))
            .Select(c => SingleRun.InChildProcess(c, args, workDir)).ToList();
        if (args.Only is not null)
            results = SingleRun.OnDisk(workDir);
        if (!results.Any(r => r.Config.Name == "plain"))
        {
            Console.WriteLine($"No plain run in {workDir} yet: every ratio is against it (--only plain).");
            return;
        }
        var timings = Time(results, Path.Combine(workDir, "models"), args);
        var machine = MachineInfo.Current();
        results = results.Select(r => r.WithoutHomeFolder()).ToList();
        var (md, targets) = Markdown(args, machine, results, timings);
        Directory.CreateDirectory(args.ResultsDirectory);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"),
            JsonSerializer.Serialize(new { machine, hardware = Hardware.Current.ToString(), threads = args.Threads, targets, timings, results }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), md);
        Console.WriteLine(md);
    }

    /// <summary>Times every saved model, all in one process and interleaved.</summary>
    private static List<Timing> Time(List<RunResult> results, string modelDir, BenchmarkArguments args)
    {
        var runs = results.Select(r => (r.Config.Name, r.Config.Seed, Stem: Path.Combine(modelDir, $"{r.Config.Name}-seed{r.Config.Seed}"))).ToList();
        var images = FashionMnist.Load(args.DataDirectory, "t10k", 2_000);
        var timers = runs.Select(r => new OrtTimer(File.ReadAllBytes(r.Stem + ".onnx"), 1, 28, 28)).ToList();
        double[] batch1, batch64;
        try
        {
            batch1 = OrtTimer.InterleavedMedians(timers, 1, args.Quick ? 21 : 301);
            batch64 = OrtTimer.InterleavedMedians(timers, 64, args.Quick ? 5 : 61);
        }
        finally
        {
            timers.ForEach(t => t.Dispose());
        }
        var engines = EngineThroughput(runs.Select(r => r.Stem + ".zip").ToList(), images, args.Quick ? 3 : 21);
        return runs.Select((r, i) => new Timing(r.Name, r.Seed, batch1[i], batch64[i], engines[i])).ToList();
    }

    /// <summary>Images per second through ML.NET's PredictionEngine (one image per call, as an app scores): each model
    /// scores 100 images in turn for <paramref name="rounds"/> rounds after one warm-up round, and the median round
    /// counts, so that one disturbed round does not move a model's figure.</summary>
    private static double[] EngineThroughput(List<string> zips, IReadOnlyList<FashionMnistImage> images, int rounds)
    {
        var ml = new MLContext(1);
        var engines = zips.Select(z => ml.Model.CreatePredictionEngine<InferenceBenchmark.Input, InferenceBenchmark.Output>(EdpModel.Load(ml, z, out _))).ToList();
        var perRound = engines.Select(_ => new List<double>()).ToArray();
        var row = new InferenceBenchmark.Input();
        for (int round = 0; round <= rounds; round++)
        {
            for (int e = 0; e < engines.Count; e++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < 100; i++)
                {
                    row.Features = images[(round * 100 + i) % images.Count].Features;
                    engines[e].Predict(row);
                }
                if (round > 0)
                    perRound[e].Add(100 / Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        }
        engines.ForEach(e => e.Dispose());
        return perRound.Select(OrtTimer.Median).ToArray();
    }

    private static (string Markdown, List<CompressionBenchmark.Target> Targets) Markdown(BenchmarkArguments args, MachineInfo machine, List<RunResult> results, List<Timing> timings)
    {
        var c = CultureInfo.InvariantCulture;
        var runs = results.GroupBy(r => r.Config.Name).Select(g => new CompressionBenchmark.Summary(g.Key, g.ToList())).ToList();
        var plain = runs.First(r => r.Name == "plain");
        Timing Plain(int seed) => timings.First(t => t.Name == "plain" && t.Seed == seed);
        (double Mean, double Sd) Speedup(string run, Func<Timing, double> ms) => SampleStatistics.Of(timings.Where(t => t.Name == run).Select(t => ms(Plain(t.Seed)) / ms(t)).ToList());
        (double Mean, double Sd) Engine(string run) => SampleStatistics.Of(timings.Where(t => t.Name == run).Select(t => t.EngineImagesPerSecond / Plain(t.Seed).EngineImagesPerSecond).ToList());
        string Predicted(CompressionBenchmark.Summary r, int batch) => r.Runs[0].Latency?.FirstOrDefault(b => b.Batch == batch) is { } l && r.Runs[0].Config.Compress
            ? (1 / r.Runs.Average(x => x.Latency!.First(b => b.Batch == batch).PredictedSpeedup)).ToString("P1", c) : "-";
        string Pm((double Mean, double Sd) s, string format) => $"{s.Mean.ToString(format, c)} ± {s.Sd.ToString(format, c)}";

        var md = new StringBuilder();
        md.AppendLine(c, $"# Latency benchmark: {args.Architecture} on Fashion-MNIST{(args.Quick ? " (quick: embedded subset)" : "")}").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads));
        md.AppendLine(c, $"Scoring machine: {Hardware.Current}. Every model was timed in one process after all fits, interleaved round by round: ")
            .AppendLine("ONNX Runtime (ML.NET's session options, no spinning) medians at batch 1 and 64, and ML.NET `PredictionEngine` throughput one image at a time (median of rounds of 100 images).")
            .Append(c, $"{plain.Runs[0].Epochs} epochs on {plain.Runs[0].TrainRows:N0} training images; mean ± sample sd over seeds {string.Join(", ", plain.Runs.Select(r => r.Config.Seed))}; ")
            .AppendLine("speed-ups are per seed against that seed's plain model. Predicted latency is the fit's latency table (plain = 100 %). The machine was shared with other work.").AppendLine();
        md.AppendLine("| run | test accuracy | vs plain (pt) | MACs kept | predicted latency b1 | predicted latency b64 | ORT speed-up b1 | ORT speed-up b64 | PredictionEngine speed-up |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
            md.AppendLine(c, $"| {r.Name} | {r.Accuracy * 100:F2} ± {r.Spread * 100:F2} % | {(r.Accuracy - plain.Accuracy) * 100:+0.00;-0.00} | {r.Macs / plain.Macs:P1} | {Predicted(r, 1)} | {Predicted(r, 64)} | {Pm(Speedup(r.Name, t => t.Batch1Ms), "F2")}x | {Pm(Speedup(r.Name, t => t.Batch64Ms), "F2")}x | {Pm(Engine(r.Name), "F2")}x |");
        md.AppendLine().AppendLine("## Every model").AppendLine();
        md.AppendLine("| run | seed | test accuracy | MACs kept | ORT b1 ms | ORT b64 ms | PredictionEngine images/s | training backend |").AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in results.OrderBy(r => r.Config.Name).ThenBy(r => r.Config.Seed))
        {
            var t = timings.First(t => t.Name == r.Config.Name && t.Seed == r.Config.Seed);
            md.AppendLine(c, $"| {r.Config.Name} | {r.Config.Seed} | {r.TestAccuracy:P2} | {r.Macs / plain.Macs:P1} | {t.Batch1Ms:F4} | {t.Batch64Ms:F3} | {t.EngineImagesPerSecond:F0} | {r.BackendPath} |");
        }
        var targets = new List<CompressionBenchmark.Target>();
        void SpeedTarget(string run, string what, double atLeast)
        {
            if (runs.All(r => r.Name != run))
                return;
            var (b1, b64) = (Speedup(run, t => t.Batch1Ms).Mean, Speedup(run, t => t.Batch64Ms).Mean);
            targets.Add(new($"{run} ({what}): ORT speed-up >= {atLeast:F1}x at batch 1 and 64 (means)", $"{b1:F2}x and {b64:F2}x", b1 >= atLeast && b64 >= atLeast));
        }
        SpeedTarget(LatencyBatch64.Name, "TargetLatencyRatio 0.5 at batch 64", 1.8);
        SpeedTarget(LatencyBatch1.Name, "TargetLatencyRatio 0.7 at batch 1, near the lowest reachable there with pairs only where they have fewer MACs", 1.8);
        SpeedTarget(CompressionBenchmark.Half.Name, "the MACs default", 1.5);
        foreach (var run in new[] { LatencyBatch1.Name, LatencyBatch64.Name }.Where(n => runs.Any(r => r.Name == n)))
        {
            var r = runs.First(x => x.Name == run);
            targets.Add(new($"{run}: accuracy within 0.5 pt of plain (means)", $"{(r.Accuracy - plain.Accuracy) * 100:+0.00;-0.00} pt", plain.Accuracy - r.Accuracy <= 0.005));
        }
        foreach (var run in runs.Where(r => r.Runs[0].Config.Compress))
        {
            var e = Engine(run.Name).Mean;
            targets.Add(new($"{run.Name}: PredictionEngine throughput >= 1.4x plain (means)", $"{e:F2}x", e >= 1.4));
        }
        md.AppendLine().AppendLine("## Targets").AppendLine().AppendLine("| target | measured | result |").AppendLine("|---|---|---|");
        foreach (var t in targets)
            md.AppendLine(c, $"| {t.Name} | {t.Measured} | {(t.Pass ? "pass" : "**miss**")} |");
        md.AppendLine().AppendLine("## Per-layer reports, first seed").AppendLine();
        foreach (var r in runs.Where(r => r.Runs[0].Config.Compress))
            md.AppendLine(r.Runs[0].ReportMarkdown.Replace("## EDP compression report", "### " + r.Name + ":"));
        return (md.ToString(), targets);
    }
}
