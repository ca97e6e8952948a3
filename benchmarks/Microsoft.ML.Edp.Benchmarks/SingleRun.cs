using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>One training run in its own process, so that peak RSS belongs to that run alone.</summary>
public static class SingleRun
{
    /// <summary>Writes the fit's information and warnings to the console, each line tagged with <paramref name="tag"/>.
    /// Warnings too: a run too short for its budget, or a measured speed-up far below the prediction, should show in
    /// the log beside the figures it qualifies.</summary>
    public static void LogFit(MLContext ml, string tag) => ml.Log += (_, e) =>
    {
        if (e.Source.Contains("EdpCompress") && e.Kind is Runtime.ChannelMessageKind.Info or Runtime.ChannelMessageKind.Warning)
            Console.WriteLine($"[{tag}]{(e.Kind == Runtime.ChannelMessageKind.Warning ? " warning:" : "")} {e.Message}");
    };

    public static void Execute(RunConfig config, string resultPath, string dataDir, int epochs, int threads)
    {
        var ml = new MLContext(seed: 1);
        LogFit(ml, config.Name);
        // DataRepeat > 1 streams the same images several times through a lazy enumerable: a larger data set that
        // takes no more memory to hold, so that any growth in RSS is the trainer's.
        var images = FashionMnist.Load(dataDir, "train", config.TrainImages ?? int.MaxValue);
        var train = ml.Data.LoadFromEnumerable(Enumerable.Range(0, config.DataRepeat).SelectMany(_ => images));
        var test = ml.Data.LoadFromEnumerable(FashionMnist.Load(dataDir, "t10k"));
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label");
        var options = config.ToOptions(epochs, threads);
        epochs = options.Epochs;
        options.ValidationSet = toKey.Fit(train).Transform(test);

        var clock = Stopwatch.StartNew();
        var model = toKey.Append(ml.Transforms.CompressEdp(options)).Fit(train);
        double fitSeconds = clock.Elapsed.TotalSeconds;
        var accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        var report = model.LastTransformer.Report;

        var modelDir = Path.Combine(Path.GetDirectoryName(resultPath)!, "models");
        Directory.CreateDirectory(modelDir);
        var stem = Path.GetFileNameWithoutExtension(resultPath);
        model.LastTransformer.SaveOnnx(Path.Combine(modelDir, stem + ".onnx"));
        ml.Model.Save(model, train.Schema, Path.Combine(modelDir, stem + ".zip"));

        var result = new RunResult(config, epochs, threads, report.TrainingRows, accuracy,
            report.ParamsAfter, report.MacsAfter, report.OnnxSizeBytes, report.OnnxParameterCount, fitSeconds, report.TrainingSeconds,
            PeakRssBytes(), report.Epochs.Select(e => e.WorkingSetBytes).ToArray(),
            report.ValidationAccuracyBeforePruning, report.ValidationAccuracyAfterPruning, report.ToMarkdown(), MachineInfo.Current(), report.Latency?.Batches);
        File.WriteAllText(resultPath, JsonSerializer.Serialize(result));
    }

    /// <summary>Every run result in <paramref name="workDir"/>.</summary>
    public static List<RunResult> OnDisk(string workDir) => Directory.EnumerateFiles(workDir, "*-seed*.json")
        .Select(f => JsonSerializer.Deserialize<RunResult>(File.ReadAllText(f))!).OrderBy(r => r.Config.Seed).ToList();

    /// <summary>VmHWM: the process's peak resident set size.</summary>
    private static long PeakRssBytes()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    /// <summary>Runs <paramref name="config"/> in a child process of this program and reads its result.</summary>
    public static RunResult InChildProcess(RunConfig config, BenchmarkArguments args, string workDir)
    {
        Directory.CreateDirectory(workDir);
        var resultPath = Path.Combine(workDir, $"{config.Name}-seed{config.Seed}.json");
        if (args.Resume && File.Exists(resultPath) && JsonSerializer.Deserialize<RunResult>(File.ReadAllText(resultPath)) is { } done && done.Config == config)
            return done;
        InChild($"Run '{config.Name}'", "run", config.ToJson(), resultPath, args.DataDirectory, args.Epochs.ToString(), args.Threads.ToString());
        return JsonSerializer.Deserialize<RunResult>(File.ReadAllText(resultPath))!;
    }

    /// <summary>Runs this program's <paramref name="command"/> in a child process and waits for it; a failure names
    /// <paramref name="what"/>. A fit gets its own process so that its peak RSS and the backend check's process-wide
    /// verdict belong to it alone.</summary>
    public static void InChild(string what, string command, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        foreach (var a in new[] { typeof(SingleRun).Assembly.Location, command }.Concat(arguments))
            start.ArgumentList.Add(a);
        // libgomp's default spin-wait costs up to 9x on a busy 2-core machine; the library sets this too, but only the
        // environment of a new process is certain to reach libgomp before it loads.
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(start)!;
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{what} failed with exit code {process.ExitCode}.");
    }
}
