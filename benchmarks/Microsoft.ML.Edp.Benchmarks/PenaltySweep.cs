using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>How the penalties trade accuracy for size on VGG-S: one run per setting, against plain training.</summary>
public static class PenaltySweep
{
    private const EdpChannelGroup Doc = EdpChannelGroup.CoefficientsAndBatchNorm;
    private const EdpChannelGroup Bn = EdpChannelGroup.BatchNorm;

    // Every run names its schedule, budget penalty and channel multiple: the defaults changed over time (ramp 0.5, hold
    // 0.6 and multiple 1 until the least-important budget penalty, which does best with 0.3 and 0.4 and runs faster in
    // ONNX Runtime rounded to 8), and sweep.json keeps the runs of earlier defaults only while their configurations
    // still say what ran.
    public static readonly RunConfig[] Configs =
    [
        new("plain", Compress: false),
        new("doc-0.05", RankPenalty: 0.05, ChannelPenalty: 0.05, ChannelGroup: Doc, RampFraction: 0.5, HoldFraction: 0.6, ChannelMultiple: 1),
        new("doc-0.05-hold0.6", RankPenalty: 0.05, ChannelPenalty: 0.05, ChannelGroup: Doc, HoldFraction: 0.6, RampFraction: 0.5, ChannelMultiple: 1),
        new("bn-0.02-hold0.6", RankPenalty: 0.02, ChannelPenalty: 0.02, ChannelGroup: Bn, HoldFraction: 0.6, RampFraction: 0.5, ChannelMultiple: 1),
        new("bn-0.04-hold0.6", RankPenalty: 0.04, ChannelPenalty: 0.04, ChannelGroup: Bn, HoldFraction: 0.6, RampFraction: 0.5, ChannelMultiple: 1),
        new("bn-cost-0.04-hold0.6", RankPenalty: 0.04, ChannelPenalty: 0.04, ChannelGroup: Bn, HoldFraction: 0.6, Weighting: EdpPenaltyWeighting.Cost, RampFraction: 0.5, ChannelMultiple: 1),
        new("doc-0.1-hold0.6", RankPenalty: 0.1, ChannelPenalty: 0.1, ChannelGroup: Doc, HoldFraction: 0.6, RampFraction: 0.5, ChannelMultiple: 1),
        new("bn-cost-0.1-hold0.6", RankPenalty: 0.1, ChannelPenalty: 0.1, ChannelGroup: Bn, HoldFraction: 0.6, Weighting: EdpPenaltyWeighting.Cost, RampFraction: 0.5, ChannelMultiple: 1),
        new("doc-0.07-hold0.6", RankPenalty: 0.07, ChannelPenalty: 0.07, ChannelGroup: Doc, HoldFraction: 0.6, RampFraction: 0.5, ChannelMultiple: 1),
        new("doc-0.1-ramp0.3-hold0.5", RankPenalty: 0.1, ChannelPenalty: 0.1, ChannelGroup: Doc, RampFraction: 0.3, HoldFraction: 0.5, ChannelMultiple: 1),
        new("doc-0.085-hold0.5", RankPenalty: 0.085, ChannelPenalty: 0.085, ChannelGroup: Doc, HoldFraction: 0.5, RampFraction: 0.5, ChannelMultiple: 1),
        new("doc-0.095-hold0.5", RankPenalty: 0.095, ChannelPenalty: 0.095, ChannelGroup: Doc, HoldFraction: 0.5, RampFraction: 0.5, ChannelMultiple: 1),
        new("budget-0.5", TargetMacsRatio: 0.5, RampFraction: 0.5, HoldFraction: 0.6, BudgetPenalty: EdpBudgetPenalty.AllGroups, ChannelMultiple: 1),
        new("budget-0.25", TargetMacsRatio: 0.25, RampFraction: 0.5, HoldFraction: 0.6, BudgetPenalty: EdpBudgetPenalty.AllGroups, ChannelMultiple: 1),
        new("budget-0.5-ramp0.25-hold0.3", TargetMacsRatio: 0.5, RampFraction: 0.25, HoldFraction: 0.3, BudgetPenalty: EdpBudgetPenalty.AllGroups, ChannelMultiple: 1),
        new("budget-0.5-least-important", TargetMacsRatio: 0.5, BudgetPenalty: EdpBudgetPenalty.LeastImportant, RampFraction: 0.5, HoldFraction: 0.6, ChannelMultiple: 1),
        new("budget-0.25-least-important", TargetMacsRatio: 0.25, BudgetPenalty: EdpBudgetPenalty.LeastImportant, RampFraction: 0.5, HoldFraction: 0.6, ChannelMultiple: 1),
        new("budget-0.5-least-important-ramp0.3-hold0.4", TargetMacsRatio: 0.5, RampFraction: 0.3, HoldFraction: 0.4, BudgetPenalty: EdpBudgetPenalty.LeastImportant, ChannelMultiple: 1),
        new("budget-0.5-least-important-ramp0.2-hold0.3", TargetMacsRatio: 0.5, RampFraction: 0.2, HoldFraction: 0.3, BudgetPenalty: EdpBudgetPenalty.LeastImportant, ChannelMultiple: 1),
        new("budget-0.25-least-important-ramp0.3-hold0.4", TargetMacsRatio: 0.25, RampFraction: 0.3, HoldFraction: 0.4, BudgetPenalty: EdpBudgetPenalty.LeastImportant, ChannelMultiple: 1),
        new("plain-widths-0.7", Compress: false, ConvWidths: "11,11,23,23,45,45"),
        new("resnet20-plain", Compress: false, Architecture: EdpArchitecture.ResNet20),
        new("resnet20-budget-0.5", Architecture: EdpArchitecture.ResNet20, TargetMacsRatio: 0.5, RampFraction: 0.5, HoldFraction: 0.6, BudgetPenalty: EdpBudgetPenalty.AllGroups, ChannelMultiple: 1),
        new("resnet20-budget-0.5-least-important", Architecture: EdpArchitecture.ResNet20, TargetMacsRatio: 0.5, RampFraction: 0.3, HoldFraction: 0.4, BudgetPenalty: EdpBudgetPenalty.LeastImportant, ChannelMultiple: 1),
    ];

    public static void Run(BenchmarkArguments args)
    {
        var filter = Environment.GetEnvironmentVariable("EDP_SWEEP_ONLY")?.Split(',');
        var results = Previous(args);
        foreach (var config in Configs.Where(c => (filter is null || filter.Contains(c.Name)) && !results.Any(r => r.Config.Name == c.Name)))
        {
            results.Add(SingleRun.InChildProcess(config, args, Path.Combine(args.ResultsDirectory, "runs", "sweep")));
            Write(args, results);
        }
        // With nothing left to run, the tables are still rewritten from sweep.json (after a change of their layout).
        if (results.Count > 0)
            Write(args, results);
    }

    /// <summary>Runs already in sweep.json (same epochs and threads) are kept, so an interrupted sweep resumes.</summary>
    private static List<RunResult> Previous(BenchmarkArguments args)
    {
        var path = Path.Combine(args.ResultsDirectory, "sweep.json");
        if (!File.Exists(path))
            return [];
        var saved = JsonSerializer.Deserialize<SweepFile>(File.ReadAllText(path));
        return saved?.Results.Where(r => r.Epochs == args.Epochs && r.Threads == args.Threads && Configs.Any(c => c == r.Config)).ToList() ?? [];
    }

    private sealed record SweepFile(MachineInfo Machine, List<RunResult> Results);

    private static void Write(BenchmarkArguments args, List<RunResult> results)
    {
        var machine = MachineInfo.Current();
        Directory.CreateDirectory(args.ResultsDirectory);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, "sweep.json"), JsonSerializer.Serialize(new SweepFile(machine, results), new JsonSerializerOptions { WriteIndented = true }));
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# EDP penalty and budget sweep (Fashion-MNIST; VGG-S unless the run names another network)").AppendLine();
        md.AppendLine(c, $"{args.Threads} training threads; {results[0].Epochs} epochs on {results[0].TrainRows:N0} training images; accuracy on the test split. The sweep resumes from sweep.json, so its rows were measured over several sessions: the last column says when and on which CPU. Wall times are in sweep.json; the compression benchmark is where time is compared, within one invocation.").AppendLine();
        md.AppendLine("Each run is compared with the plain run of the same architecture. A MACs budget (`TargetMacsRatio`) scales the penalties during training; the penalty column then gives the starting strength.").AppendLine();
        md.AppendLine("| run | architecture | rank / channel penalty | MACs budget | budget penalty | channel group | weighting | ramp | hold | test accuracy | vs plain (pt) | MACs kept | params kept | measured |");
        md.AppendLine("|---|---|---|---:|---|---|---|---|---|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            var plain = results.FirstOrDefault(p => !p.Config.Compress && p.Config.Architecture == r.Config.Architecture);
            string delta = plain is null ? "" : ((r.TestAccuracy - plain.TestAccuracy) * 100).ToString("+0.00;-0.00", c);
            string macs = plain is null ? "" : ((double)r.Macs / plain.Macs).ToString("P1", c);
            string prms = plain is null ? "" : ((double)r.Params / plain.Params).ToString("P1", c);
            md.AppendLine(c, $"| {r.Config.Name} | {r.Config.Architecture} | {(r.Config.Compress ? $"{r.Config.RankPenalty ?? new EdpCompressOptions().RankPenalty} / {r.Config.ChannelPenalty ?? new EdpCompressOptions().ChannelPenalty}" : "-")} | {r.Config.TargetMacsRatio?.ToString("P0", c) ?? "-"} | {(r.Config.TargetMacsRatio is null ? "-" : r.Config.BudgetPenalty?.ToString() ?? "default")} | {(r.Config.Compress ? (r.Config.ChannelGroup ?? new EdpCompressOptions().ChannelGroup).ToString() : "-")} | {r.Config.Weighting?.ToString() ?? (r.Config.Compress ? "default" : "-")} | {r.Config.RampFraction?.ToString(c) ?? "-"} | {r.Config.HoldFraction?.ToString(c) ?? "-"} | {r.TestAccuracy:P2} | {delta} | {macs} | {prms} | {(r.Machine is { } m ? $"{m.Date[..10]}, {m.Cpu}" : "")} |");
        }
        File.WriteAllText(Path.Combine(args.ResultsDirectory, "sweep.md"), md.ToString());
    }
}
