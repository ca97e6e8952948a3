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

    /// <summary>The default budget distilling from the network before the cut (alpha 0.5, T 4): the teacher released at
    /// the freeze, or kept through the recovery.</summary>
    public static readonly RunConfig HalfDistilled = Half with { Name = "edp-budget-0.5-distil", DistillationWeight = 0.5 };
    public static readonly RunConfig HalfDistilledThroughRecovery = HalfDistilled with { Name = "edp-budget-0.5-distil-recovery", DistillThroughRecovery = true };

    /// <summary>The default budget distilling from a moving average of its own weights (decay 0.99), kept to the end.</summary>
    public static readonly RunConfig HalfDistilledEma = HalfDistilledThroughRecovery with { Name = "edp-budget-0.5-distil-ema", DistillationEmaDecay = 0.99 };

    /// <summary>The default budget with the penalty ramp at half its length (0.15): the cost reaches the target
    /// earlier and the network trains longer on the structure it keeps, the freeze where it was; and with a longer,
    /// gentler ramp (0.5) that reaches the target only at the freeze.</summary>
    public static readonly RunConfig HalfEarlyRamp = Half with { Name = "edp-budget-0.5-ramp0.15", RampFraction = 0.15 };
    public static readonly RunConfig HalfLateRamp = Half with { Name = "edp-budget-0.5-ramp0.5", RampFraction = 0.5 };

    /// <summary>The default budget choosing groups by their raw importance per unit of cost, as earlier versions did,
    /// instead of importance normalised within each layer; and rounded to 8 channels, not 16 (docs/results.md).</summary>
    public static readonly RunConfig HalfRawImportance = Half with { Name = "edp-budget-0.5-raw", RawImportance = true };
    public static readonly RunConfig HalfMultiple8 = Half with { Name = "edp-budget-0.5-x8", ChannelMultiple = 8 };

    /// <summary>The default budget with the learning rate restarted at the freeze (learning-rate rewinding), from the
    /// peak and from half of it.</summary>
    public static readonly RunConfig HalfRestart = Half with { Name = "edp-budget-0.5-restart1", RecoveryLearningRate = 1 };
    public static readonly RunConfig HalfRestartHalf = Half with { Name = "edp-budget-0.5-restart0.5", RecoveryLearningRate = 0.5 };

    /// <summary>The obvious alternative to compressing: the same layout, narrower, trained from scratch. For VGG-S,
    /// block-friendly widths at 47.7% of the MACs, and the 0.7x widths at 48.3%; VGG-M doubles them. For the ResNets,
    /// stages of 16, 16, 32 channels (each stage costs about a third of the plain net; this keeps the first whole and a
    /// quarter of each other: 52% of ResNet-20's MACs), and the 0.7x widths.</summary>
    public static RunConfig[] Narrow(EdpArchitecture architecture) => architecture switch
    {
        EdpArchitecture.VggSmall => [new("narrow-16x32", Compress: false, ConvWidths: "16,16,16,16,32,32"), new("narrow-0.7x", Compress: false, ConvWidths: "11,11,22,22,45,45")],
        EdpArchitecture.VggMedium => [new("narrow-32x64", Compress: false, ConvWidths: "32,32,32,32,64,64"), new("narrow-0.7x", Compress: false, ConvWidths: "22,22,45,45,90,90")],
        EdpArchitecture.ResNet20 or EdpArchitecture.ResNet56 =>
            [new("narrow-16x16x32", Compress: false) { ResNetWidths = "16,16,16,32" }, new("narrow-0.7x", Compress: false) { ResNetWidths = "11,11,22,45" }],
        _ => [],
    };

    /// <summary>The configurations of one invocation, the plain run first, then the narrow nets from scratch. The short
    /// regime (--short, --train-images) runs only these and the default budget (on VGG-S also unrounded, to compare
    /// with the 0.7x net at its own alignment, and distilled): its question is whether compressing beats training the narrow net.
    /// --quick, a smoke run, takes one narrow net and the two budgets.</summary>
    public static RunConfig[] Configs(BenchmarkArguments args)
    {
        var plain = new RunConfig("plain", Compress: false);
        var narrow = args.Quick ? Narrow(args.Architecture).Take(1) : Narrow(args.Architecture);
        RunConfig[] edp = args.TrainImages is not null ? (args.Architecture == EdpArchitecture.VggSmall ? [Half, HalfUnrounded, HalfDistilled, HalfDistilledThroughRecovery, HalfDistilledEma, HalfEarlyRamp, HalfLateRamp, HalfRawImportance, HalfMultiple8, HalfRestart, HalfRestartHalf] : [Half, HalfRestart, HalfRestartHalf])
            : args.Quick ? [Half, Quarter]
            : args.Architecture == EdpArchitecture.VggSmall ? [Penalties, Half, Quarter, HalfUnrounded, QuarterUnrounded, HalfRawImportance] : [Half, Quarter];
        return ForInvocation(new[] { plain }.Concat(narrow).Concat(edp), args);
    }

    /// <summary><paramref name="configs"/> as this invocation runs them: on its architecture (custom widths keep their
    /// own) and training images, only those --only names.</summary>
    public static RunConfig[] ForInvocation(IEnumerable<RunConfig> configs, BenchmarkArguments args)
        => configs.Select(c => c with { Architecture = c.ConvWidths is null ? args.Architecture : c.Architecture, TrainImages = args.TrainImages })
            .Where(c => args.Only is null || args.Only.Contains(c.Name)).ToArray();

    /// <summary>The results' file name without extension: compression, compression-vggmedium, ..., -short, -quick.</summary>
    public static string ResultsName(BenchmarkArguments args) => ResultsName("compression", args);

    /// <summary>A benchmark's results file name without extension, with the invocation's architecture, training
    /// images and --quick: latency, latency-vggmedium, ..., -20k, -quick.</summary>
    public static string ResultsName(string benchmark, BenchmarkArguments args)
        => benchmark + (args.Architecture == EdpArchitecture.VggSmall ? "" : "-" + args.Architecture.ToString().ToLowerInvariant())
            + (args.TrainImages is { } n ? $"-{n / 1000}k" : "") + (args.Quick ? "-quick" : "");

    public static void Run(BenchmarkArguments args)
    {
        var name = ResultsName(args);
        var workDir = Path.Combine(args.ResultsDirectory, "runs", name);
        var json = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
        var saved = args.Render ? JsonSerializer.Deserialize<ResultsFile>(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".json")), json)! : null;
        // Seed-major, so that a stopped invocation has every configuration at the first seeds.
        var results = saved?.Results ?? Enumerable.Range(1, args.Seeds)
            .SelectMany(seed => Configs(args).Select(c => c with { Seed = seed }))
            .Select(c => SingleRun.InChildProcess(c, args, workDir)).ToList();
        if (args.Only is not null && saved is null)
            results = SingleRun.OnDisk(workDir);
        results = results.Select(r => r.WithoutHomeFolder()).ToList();
        var runs = results.GroupBy(r => r.Config.Name).Select(g => new Summary(g.Key, g.ToList())).ToList();
        if (runs.FirstOrDefault(r => r.Name == "plain") is not { } plain)
        {
            Console.WriteLine($"No plain run in {workDir} yet: every ratio is against it, so the tables wait for it (--only plain).");
            return;
        }
        Summary? Named(string run) => runs.FirstOrDefault(r => r.Name == run);
        var targets = new List<Target>();
        if (Named(Half.Name) is { } half)
        {
            // The short regime's question is the narrow net alone; closeness to plain is asked of full training, and
            // more loosely of the embedded subset's 120 steps (--quick), the quick start's data.
            if (args.TrainImages is null)
            {
                double points = args.Quick ? 3 : 0.3;
                targets.Add(AccuracyAtMacs($"EDP, budget 0.5 (the defaults): >= 50% fewer MACs within {points:0.0} pt of plain accuracy (means)", half, plain, 0.5, points));
            }
            // Against the best narrow net of this invocation: the alternative a user would pick.
            if (Narrow(args.Architecture).Select(n => Named(n.Name)).OfType<Summary>().MaxBy(n => n.Accuracy) is { } narrow)
                targets.Add(new($"EDP, budget 0.5 (the defaults) at least matches the best narrow net from scratch, {narrow.Name} (means)",
                    $"{(half.Accuracy - narrow.Accuracy) * 100:+0.00;-0.00} pt", half.Accuracy >= narrow.Accuracy));
        }
        if (Named(Quarter.Name) is { } quarter)
            targets.Add(AccuracyAtMacs("EDP, budget 0.25: >= 75% fewer MACs within 1.0 pt of plain accuracy (means)", quarter, plain, 0.25, 1.0));
        if (runs.Where(r => r.Runs[0].Config.Compress).MaxBy(r => r.FitSeconds) is { } slowest)
            targets.Add(new($"Whole EDP run <= 1.3x plain training time (slowest: {slowest.Name})", $"{slowest.FitSeconds / plain.FitSeconds:F2}x", slowest.FitSeconds <= 1.3 * plain.FitSeconds));
        targets.Add(new("Peak training RSS < 2 GiB (every run)", $"{results.Max(r => r.PeakRssBytes) / (1024.0 * 1024 * 1024):F2} GiB", results.All(r => r.PeakRssBytes < 2L << 30)));
        Directory.CreateDirectory(args.ResultsDirectory);
        var machine = saved?.Machine ?? MachineInfo.Current();
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"),
            JsonSerializer.Serialize(new { machine, threads = args.Threads, targets, results }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), Markdown(args, machine, results, runs, targets));
        Console.WriteLine(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".md")));
    }

    public sealed record Target(string Name, string Measured, bool Pass);

    private sealed record ResultsFile(MachineInfo Machine, List<RunResult> Results);

    /// <summary>One configuration over its seeds: mean and sample standard deviation of the test accuracy, mean cost.</summary>
    internal sealed record Summary(string Name, List<RunResult> Runs)
    {
        public double Accuracy => SampleStatistics.Of(Runs.Select(r => r.TestAccuracy).ToList()).Mean;
        public double Spread => SampleStatistics.Of(Runs.Select(r => r.TestAccuracy).ToList()).Sd;
        public double Macs => Runs.Average(r => (double)r.Macs);
        public double Params => Runs.Average(r => (double)r.Params);
        public double OnnxBytes => Runs.Average(r => (double)r.OnnxBytes);
        public double FitSeconds => Runs.Average(r => r.FitSeconds);
        public long PeakRss => Runs.Max(r => r.PeakRssBytes);
    }

    private static Target AccuracyAtMacs(string name, Summary run, Summary plain, double maxMacsRatio, double maxPointsLost)
    {
        double macs = run.Macs / plain.Macs, lost = (plain.Accuracy - run.Accuracy) * 100;
        return new(name, $"{1 - macs:P1} fewer MACs, {-lost:+0.00;-0.00} pt", macs <= maxMacsRatio && lost <= maxPointsLost);
    }

    private static string Markdown(BenchmarkArguments args, MachineInfo machine, List<RunResult> results, List<Summary> runs, List<Target> targets)
    {
        var c = CultureInfo.InvariantCulture;
        var plain = runs.First(r => r.Name == "plain");
        var md = new StringBuilder();
        md.AppendLine(c, $"# Compression benchmark: {args.Architecture} on Fashion-MNIST{(args.Quick ? " (quick: embedded subset)" : "")}").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads));
        md.Append(c, $"{plain.Runs[0].Epochs} epochs on {plain.Runs[0].TrainRows:N0} training images, test accuracy on the {(args.Quick ? "subset's 1,000" : "10,000")} test images through ML.NET `Evaluate` on the ONNX model; ")
            .Append(c, $"mean and sample standard deviation over seeds {string.Join(", ", plain.Runs.Select(r => r.Config.Seed))} (weights and shuffling). Ratios are against the plain mean of this invocation. ")
            .AppendLine("The narrow runs are the same layout with fewer channels, trained from scratch with the same epochs. The machine is shared with other work, so times are indicative only.").AppendLine();
        md.AppendLine("| run | seeds | test accuracy (mean ± sd) | vs plain (pt) | params | MACs | MACs kept | ONNX ratio | fit time | time ratio | peak RSS |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
            md.AppendLine(c, $"| {r.Name} | {r.Runs.Count} | {r.Accuracy * 100:F2} ± {r.Spread * 100:F2} % | {(r.Accuracy - plain.Accuracy) * 100:+0.00;-0.00} | {r.Params:N0} | {r.Macs:N0} | {r.Macs / plain.Macs:P1} | {r.OnnxBytes / plain.OnnxBytes:F3} | {r.FitSeconds:F0} s | {r.FitSeconds / plain.FitSeconds:F2}x | {r.PeakRss / 1048576.0:F0} MiB |");
        md.AppendLine().AppendLine("## Every run").AppendLine();
        md.AppendLine("| run | seed | test accuracy | MACs kept | fit time | training backend |").AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var r in results.OrderBy(r => r.Config.Name).ThenBy(r => r.Config.Seed))
            md.AppendLine(c, $"| {r.Config.Name} | {r.Config.Seed} | {r.TestAccuracy:P2} | {r.Macs / plain.Macs:P1} | {r.FitSeconds:F0} s | {r.BackendPath} |");
        md.AppendLine().AppendLine("## Targets").AppendLine();
        md.AppendLine("| target | measured | result |").AppendLine("|---|---|---|");
        foreach (var t in targets)
            md.AppendLine(c, $"| {t.Name} | {t.Measured} | {(t.Pass ? "pass" : "**miss**")} |");
        md.AppendLine().AppendLine("## Working set at the end of each epoch (MiB), first seed").AppendLine();
        foreach (var r in runs)
            md.AppendLine(c, $"- {r.Name}: {string.Join(", ", r.Runs[0].RssPerEpochBytes.Select(b => (b / 1048576.0).ToString("F0", c)))}");
        md.AppendLine().AppendLine("## Per-layer reports, first seed").AppendLine();
        foreach (var r in runs.Where(r => r.Runs[0].Config.Compress))
            md.AppendLine(r.Runs[0].ReportMarkdown.Replace("## EDP compression report", "### " + r.Name + ":"));
        return md.ToString();
    }
}
