using System.Diagnostics;
using System.Text;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>What the backend self-check and its fallback cost: the check of VGG-S's shapes with a cold cache (child
/// process included) and a warm one, and plain VGG-S training steps (batch 128) with oneDNN on and off, interleaved
/// round by round in one process. The step times say nothing of correctness: run it where oneDNN passes the check.</summary>
public static class BackendBenchmark
{
    public static void Run(BenchmarkArguments args)
    {
        int threads = args.Threads, rounds = args.Quick ? 2 : 5, steps = args.Quick ? 5 : 20;
        TorchRuntime.Configure(threads, 1);
        var options = new EdpCompressOptions { Compress = false };
        var graph = FashionMnistNetwork.Build(options);
        var shapes = ProbeShape.Of(graph, [128, 60_000 % 128, 10_000 % 128]);
        var cache = Directory.CreateTempSubdirectory("edp-backend-bench-");
        var verdicts = new Dictionary<string, bool>();
        BackendCheck Check() => new(s => IsolatedProbe.Run(s, threads, TorchRuntime.ChildEnvironment), NumericProbe.Run,
            () => LibTorchSwitches.OneDnnEnabled, LibTorchSwitches.TrySetOneDnn, cache.FullName, verdicts);
        var cold = Check().Ensure(shapes, CPU, _ => { }, Console.Error.WriteLine);
        verdicts.Clear();
        var warm = Check().Ensure(shapes, CPU, _ => { }, Console.Error.WriteLine);
        cache.Delete(recursive: true);

        var onTimes = new List<double>();
        var offTimes = new List<double>();
        using var net = new EdpNet(graph);
        using var optimizer = optim.SGD(net.parameters(), 0.01, 0.9);
        var x = randn(128, 1, 28, 28);
        var y = randint(0, 10, [128]);
        for (int round = 0; round < rounds; round++)
            foreach (var oneDnn in new[] { true, false })
            {
                if (oneDnn && !cold.OneDnn)
                    continue; // oneDNN failed the check here: it is not timed, and never trained on
                LibTorchSwitches.TrySetOneDnn(oneDnn);
                Step(net, optimizer, x, y); // warm-up, so each backend's first dispatch is not timed
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < steps; i++)
                    Step(net, optimizer, x, y);
                (oneDnn ? onTimes : offTimes).Add(clock.Elapsed.TotalMilliseconds / steps);
            }
        LibTorchSwitches.TrySetOneDnn(cold.OneDnn);

        var md = new StringBuilder();
        md.AppendLine("# Backend check and oneDNN fallback cost");
        md.AppendLine();
        md.AppendLine(MachineInfo.Current().ToMarkdown(threads) + $" libtorch {__version__}, oneDNN ISA cap {TorchRuntime.OneDnnIsaCap}.");
        md.AppendLine();
        md.AppendLine($"- verdict: {cold.Description}");
        md.AppendLine($"- check of VGG-S's {shapes.Count} conv/linear shapes (batches 128, 96, 16): {cold.Seconds:F2} s with an empty cache, {warm.Seconds:F3} s cached");
        md.AppendLine($"- plain VGG-S training step, batch 128, median of {rounds} rounds of {steps} steps: oneDNN on {Median(onTimes):F1} ms, off {Median(offTimes):F1} ms"
            + (onTimes.Count > 0 ? $" ({Median(offTimes) / Median(onTimes):F2}x the time with oneDNN off); an epoch of 60,000 images: {Median(onTimes) * 469 / 1000:F1} s on, {Median(offTimes) * 469 / 1000:F1} s off" : " (oneDNN failed the check and was not timed)"));
        Console.WriteLine(md);
        Directory.CreateDirectory(args.ResultsDirectory);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, args.Quick ? "backend-quick.md" : "backend.md"), md.ToString());
    }

    private static void Step(EdpNet net, optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        nn.functional.cross_entropy(net.forward(x), y).backward();
        optimizer.step();
    }

    private static double Median(List<double> values)
        => values.Count == 0 ? double.NaN : values.Order().ElementAt(values.Count / 2);
}
