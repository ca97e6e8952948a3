using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Plain training against EDP at the default and the strong operating point, each run in its own process, on
/// full Fashion-MNIST (or the embedded subset with --quick), with the targets judged against the plain run of the
/// same invocation. VGG-S by default; --architecture runs another network (plain and the two budgets). --render
/// rewrites the tables from the results already in the JSON file, running nothing.</summary>
public static class CompressionBenchmark
{
    /// <summary>EDP driven by the fixed default penalties instead of a budget, kept channels as trained.</summary>
    public static readonly RunConfig Penalties = new("edp-penalties", ChannelMultiple: 1);

    /// <summary>The two operating points the targets name, asked for as budgets: half the MACs with the defaults, and a
    /// quarter with the later ramp (0.5) and hold (0.6) that did best there in the sweep (91.60% against 91.26%).</summary>
    public static readonly RunConfig Half = new("edp-budget-0.5", TargetMacsRatio: 0.5);
    public static readonly RunConfig Quarter = new("edp-budget-0.25", TargetMacsRatio: 0.25, RampFraction: 0.5, HoldFraction: 0.6);

    /// <summary>The same budgets with kept channels and ranks as trained, not rounded to the default multiple of 8.</summary>
    public static readonly RunConfig HalfUnrounded = Half with { Name = "edp-budget-0.5-x1", ChannelMultiple = 1 };
    public static readonly RunConfig QuarterUnrounded = Quarter with { Name = "edp-budget-0.25-x1", ChannelMultiple = 1 };

    /// <summary>The runs of one invocation, the plain run first.</summary>
    public static RunConfig[] Configs(EdpArchitecture architecture) => architecture == EdpArchitecture.VggSmall
        ? [new("plain", Compress: false), Penalties, Half, Quarter, HalfUnrounded, QuarterUnrounded]
        : new[] { new RunConfig("plain", Compress: false), Half, Quarter }.Select(c => c with { Architecture = architecture }).ToArray();

    /// <summary>The results' file name without extension: compression, compression-vggmedium, ..., -quick.</summary>
    public static string ResultsName(BenchmarkArguments args)
        => "compression" + (args.Architecture == EdpArchitecture.VggSmall ? "" : "-" + args.Architecture.ToString().ToLowerInvariant()) + (args.Quick ? "-quick" : "");

    public static void Run(BenchmarkArguments args)
    {
        var name = ResultsName(args);
        var workDir = Path.Combine(args.ResultsDirectory, "runs", name);
        var saved = args.Render
            ? JsonSerializer.Deserialize<ResultsFile>(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".json")), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!
            : null;
        var results = saved?.Results ?? Configs(args.Architecture).Select(c => SingleRun.InChildProcess(c, args, workDir)).ToList();
        var plain = results[0];
        RunResult Named(string run) => results.First(r => r.Config.Name == run);
        var slowest = results.Skip(1).MaxBy(r => r.FitSeconds)!;
        var targets = new List<Target>
        {
            AccuracyAtMacs("EDP, budget 0.5 (the defaults): >= 50% fewer MACs within 0.3 pt of plain accuracy", Named(Half.Name), plain, 0.5, 0.3),
            AccuracyAtMacs("EDP, budget 0.25: >= 75% fewer MACs within 1.0 pt of plain accuracy", Named(Quarter.Name), plain, 0.25, 1.0),
            new($"Whole EDP run <= 1.3x plain training time (slowest: {slowest.Config.Name})", $"{slowest.FitSeconds / plain.FitSeconds:F2}x", slowest.FitSeconds <= 1.3 * plain.FitSeconds),
            new("Peak training RSS < 2 GiB (every run)", $"{results.Max(r => r.PeakRssBytes) / (1024.0 * 1024 * 1024):F2} GiB", results.All(r => r.PeakRssBytes < 2L << 30)),
        };
        Directory.CreateDirectory(args.ResultsDirectory);
        var machine = saved?.Machine ?? MachineInfo.Current();
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"),
            JsonSerializer.Serialize(new { machine, threads = args.Threads, targets, results }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), Markdown(args, machine, results, targets));
        Console.WriteLine(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".md")));
    }

    public sealed record Target(string Name, string Measured, bool Pass);

    private sealed record ResultsFile(MachineInfo Machine, List<RunResult> Results);

    private static Target AccuracyAtMacs(string name, RunResult run, RunResult plain, double maxMacsRatio, double maxPointsLost)
    {
        double macs = (double)run.Macs / plain.Macs, lost = (plain.TestAccuracy - run.TestAccuracy) * 100;
        return new(name, $"{1 - macs:P1} fewer MACs, {-lost:+0.00;-0.00} pt", macs <= maxMacsRatio && lost <= maxPointsLost);
    }

    private static string Markdown(BenchmarkArguments args, MachineInfo machine, List<RunResult> results, List<Target> targets)
    {
        var c = CultureInfo.InvariantCulture;
        var plain = results[0];
        var md = new StringBuilder();
        md.AppendLine(c, $"# Compression benchmark: {args.Architecture} on Fashion-MNIST{(args.Quick ? " (quick: embedded subset)" : "")}").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads));
        md.AppendLine(c, $"{plain.Epochs} epochs on {plain.TrainRows:N0} training images, test accuracy through ML.NET `Evaluate` on the ONNX model. Ratios are against the plain run of this invocation.").AppendLine();
        md.AppendLine("| run | test accuracy | vs plain (pt) | params | MACs | MACs kept | ONNX bytes | ONNX ratio | fit time | time ratio | peak RSS |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            md.AppendLine(c, $"| {r.Config.Name} | {r.TestAccuracy:P2} | {(r.TestAccuracy - plain.TestAccuracy) * 100:+0.00;-0.00} | {r.Params:N0} | {r.Macs:N0} | {(double)r.Macs / plain.Macs:P1} | {r.OnnxBytes:N0} | {(double)r.OnnxBytes / plain.OnnxBytes:F3} | {r.FitSeconds:F0} s | {r.FitSeconds / plain.FitSeconds:F2}x | {r.PeakRssBytes / 1048576.0:F0} MiB |");
        md.AppendLine().AppendLine("## Targets").AppendLine();
        md.AppendLine("| target | measured | result |").AppendLine("|---|---|---|");
        foreach (var t in targets)
            md.AppendLine(c, $"| {t.Name} | {t.Measured} | {(t.Pass ? "pass" : "**miss**")} |");
        md.AppendLine().AppendLine("## Working set at the end of each epoch (MiB)").AppendLine();
        foreach (var r in results)
            md.AppendLine(c, $"- {r.Config.Name}: {string.Join(", ", r.RssPerEpochBytes.Select(b => (b / 1048576.0).ToString("F0", c)))}");
        md.AppendLine().AppendLine("## Per-layer reports").AppendLine();
        foreach (var r in results.Skip(1))
            md.AppendLine(r.ReportMarkdown.Replace("## EDP compression report", "### " + r.Config.Name + ":"));
        return md.ToString();
    }
}
