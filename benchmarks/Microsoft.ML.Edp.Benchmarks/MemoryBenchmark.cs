using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Streaming memory: the embedded subset trained for 10 epochs, against the same images repeated 10x (a lazy
/// view, nothing copied) for one epoch. Both see 30,000 rows through a 2,048-row shuffle buffer; if the trainer held
/// the data set, the 10x run's peak RSS would grow with it. The 10-epoch run's per-epoch working set shows whether
/// memory stays flat across epochs (no tensor leaks).</summary>
public static class MemoryBenchmark
{
    private const int Repeat = 10, Buffer = 2048;
    public static readonly RunConfig[] Configs =
    [
        new("stream-1x", DataRepeat: 1, ShuffleBufferSize: Buffer, Epochs: Repeat),
        new("stream-10x", DataRepeat: Repeat, ShuffleBufferSize: Buffer, Epochs: 1),
    ];

    public static void Run(BenchmarkArguments args)
    {
        // Always the embedded subset: the point is the ratio, and 10x full Fashion-MNIST would take an hour.
        var subset = args with { Quick = true };
        var results = Configs.Select(c => SingleRun.InChildProcess(c, subset, Path.Combine(args.ResultsDirectory, "runs", "memory"))).ToList();
        var (one, ten) = (results[0], results[1]);
        double ratio = (double)ten.PeakRssBytes / one.PeakRssBytes;
        var series = one.RssPerEpochBytes.Select(b => b / 1048576.0).ToArray();
        double drift = series[^1] - series[1];
        var targets = new[]
        {
            new CompressionBenchmark.Target("Peak RSS of the 10x data view within 15% of the 1x run", $"{ratio:F3}x", ratio <= 1.15),
            new CompressionBenchmark.Target("Working set flat across epochs (epoch 10 vs epoch 2, 1x run)", $"{drift:+0;-0} MiB", Math.Abs(drift) <= 0.05 * series[1]),
        };
        var machine = MachineInfo.Current();
        Directory.CreateDirectory(args.ResultsDirectory);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, "memory.json"),
            JsonSerializer.Serialize(new { machine, threads = args.Threads, targets, results }, new JsonSerializerOptions { WriteIndented = true }));
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# Streaming memory (VGG-S, embedded Fashion-MNIST subset)").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads));
        md.AppendLine(c, $"Both runs train on {one.TrainRows * one.Epochs:N0} rows in all through a {Buffer:N0}-row shuffle buffer, each in its own process.").AppendLine();
        md.AppendLine("| run | rows per epoch | epochs | peak RSS | fit time |").AppendLine("|---|---:|---:|---:|---:|");
        foreach (var r in results)
            md.AppendLine(c, $"| {r.Config.Name} | {r.TrainRows:N0} | {r.Epochs} | {r.PeakRssBytes / 1048576.0:F0} MiB | {r.FitSeconds:F0} s |");
        md.AppendLine().AppendLine("| target | measured | result |").AppendLine("|---|---|---|");
        foreach (var t in targets)
            md.AppendLine(c, $"| {t.Name} | {t.Measured} | {(t.Pass ? "pass" : "**miss**")} |");
        md.AppendLine().AppendLine(c, $"Working set at the end of each epoch of the 1x run (MiB): {string.Join(", ", series.Select(v => v.ToString("F0", c)))}");
        File.WriteAllText(Path.Combine(args.ResultsDirectory, "memory.md"), md.ToString());
        Console.WriteLine(md);
    }
}
