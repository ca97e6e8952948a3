using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>What ML.NET's pretrained ResNet18 (the Microsoft.ML.DnnImageFeaturizer.ResNet18 package, ImageNet weights)
/// is worth on a small labelled set: Fashion-MNIST, 100 training images per class, read as 3-channel images at
/// --image-size, fine-tuned with a new head through the library's import path (plain, and compressed with the EDP
/// defaults in the same fit), against the same architecture from random weights (plain and compressed) and a 0.7x
/// narrower one from random weights at about half the MACs. Every run is in this process; the ONNX Runtime latency of
/// the first seed's models is timed interleaved at the end, against the plain pretrained model.</summary>
public static class PretrainedBenchmark
{
    /// <summary>One configuration: from the pretrained weights or from random ones, plain or compressed, and for the
    /// narrow net the factor on every width; <paramref name="RawImportance"/> ranks the budget's groups by their raw
    /// importance (<see cref="EdpCompressOptions.LayerNormalizedImportance"/> false); <paramref name="WholeStreams"/> keeps
    /// every residual stream at its width (<see cref="EdpCompressOptions.PruneResidualStreams"/> false);
    /// <paramref name="ChannelsOnly"/> trains the layers plain, pruning channels alone (<see cref="EdpCompressOptions.Decompose"/> false).</summary>
    public sealed record Config(string Name, bool Pretrained, bool Compress, double Width = 1, bool RawImportance = false, bool WholeStreams = false,
        bool ChannelsOnly = false)
    {
        public string Description => (Pretrained ? "pretrained ResNet18, fine-tuned" : Width == 1 ? "ResNet18 from random weights" : $"ResNet18 at {Width:0.0#}x widths from random weights")
            + (Compress ? $", EDP defaults (half the MACs){(RawImportance ? ", groups ranked by raw importance," : "")}{(WholeStreams ? ", residual streams kept whole," : "")}{(ChannelsOnly ? ", channels only (no decomposition)," : "")} in the same fit" : ", plain");
    }

    public static readonly Config PretrainedPlain = new("pretrained-plain", Pretrained: true, Compress: false);

    /// <summary>Every configuration. The random-weight ResNet18 compressed (scratch-edp), the raw-importance ranking
    /// (pretrained-edp-raw), the residual streams kept whole (pretrained-edp-whole-streams) and channels only
    /// (pretrained-edp-channels-only) run only when --only names them:
    /// on 2 shared cores the default set already takes the half hour the invocation is sized for.</summary>
    private static readonly Config[] All =
    [
        PretrainedPlain, new("pretrained-edp", true, true), new("scratch-plain", false, false),
        new("narrow-0.7x-scratch", false, false, Width: 0.7), new("scratch-edp", false, true),
        new("pretrained-edp-raw", true, true, RawImportance: true), new("pretrained-edp-whole-streams", true, true, WholeStreams: true),
        new("pretrained-edp-channels-only", true, true, ChannelsOnly: true),
    ];

    public static Config[] Configs(BenchmarkArguments args)
    {
        var names = args.Only ?? (args.Quick ? ["pretrained-plain", "pretrained-edp", "scratch-plain"] : ["pretrained-plain", "pretrained-edp", "scratch-plain", "narrow-0.7x-scratch"]);
        if (names.FirstOrDefault(n => All.All(c => c.Name != n)) is { } unknown)
            throw new ArgumentException($"--only: unknown run '{unknown}'; expected some of {string.Join(", ", All.Select(c => c.Name))}.");
        // Every latency is against the plain pretrained model, so it always runs.
        return All.Where(c => c == PretrainedPlain || names.Contains(c.Name)).ToArray();
    }

    /// <summary>Epochs when --epochs is not given: what keeps the default invocation (4 configurations, 3 seeds, 64x64)
    /// within about half an hour on 2 shared cores.</summary>
    public const int DefaultEpochs = 2;

    /// <summary>What one run measured. <see cref="Settings"/> names what else it depended on, so that --resume reuses
    /// only a run made the same way.</summary>
    public sealed record Outcome(Config Config, int Seed, string Settings, double TestAccuracy, long Macs, long Params, double FitSeconds,
        double LearningRate, string Backend);

    /// <summary>Training images per class (stratified: the first ones of each class in file order), and test images.</summary>
    private static (int PerClass, int Test) Sizes(BenchmarkArguments args) => args.Quick ? (10, 200) : (100, args.TestImages);

    private const int BatchSize = 32;

    /// <summary>The invocation's arguments with its default epochs applied, the model, the data and the settings string
    /// every run records.</summary>
    private sealed record Setup(BenchmarkArguments Args, string Model, List<FashionMnistImage> Train, IReadOnlyList<FashionMnistImage> Test, string Settings, string WorkDir);

    private static Setup Prepare(BenchmarkArguments args)
    {
        if (args.ImageSize is < 64 or > 224)
            throw new ArgumentOutOfRangeException(nameof(args), args.ImageSize, $"--image-size must be 64 to 224; found {args.ImageSize}.");
        var model = ResNet18Path;
        if (!File.Exists(model))
            throw new FileNotFoundException($"ML.NET's ResNet18 should be at '{model}', where restoring Microsoft.ML.DnnImageFeaturizer.ResNet18 puts it; run 'dotnet restore' on the benchmarks project.", model);
        var (perClass, testCount) = Sizes(args);
        if (!args.EpochsGiven && !args.Quick)
            args = args with { Epochs = DefaultEpochs };
        var train = Stratified(FashionMnist.Load(args.DataDirectory, "train"), perClass);
        var test = FashionMnist.Load(args.DataDirectory, "t10k", testCount);
        string settings = $"{perClass} per class, {test.Count} test images{(args.Quick ? " of the embedded subset" : "")}, {args.ImageSize}x{args.ImageSize}, {args.Epochs} epochs, batch {BatchSize}, {args.Threads} threads";
        return new(args, model, train, test, settings, Path.Combine(args.ResultsDirectory, "runs", ResultsName(args)));
    }

    private static string ResultsName(BenchmarkArguments args) => "pretrained" + (args.Quick ? "-quick" : "");

    public static void Run(BenchmarkArguments args)
    {
        var setup = Prepare(args);
        args = setup.Args;
        string settings = setup.Settings, workDir = setup.WorkDir, name = ResultsName(args);
        Directory.CreateDirectory(workDir);
        Console.WriteLine($"Pretrained benchmark: {settings}; ResNet18 from '{setup.Model}'.");

        var runs = new List<Outcome>();
        var firstSeedModels = new Dictionary<string, byte[]>();
        // Seed-major, so that a stopped invocation has every configuration at the first seeds.
        foreach (int seed in Enumerable.Range(1, args.Seeds))
            foreach (var config in Configs(args))
            {
                var stem = Path.Combine(workDir, $"{config.Name}-seed{seed}");
                Outcome? run = args.Resume && File.Exists(stem + ".json") && JsonSerializer.Deserialize<Outcome>(File.ReadAllText(stem + ".json")) is { } done
                    && done.Config == config && done.Settings == settings && File.Exists(stem + ".onnx") ? done : null;
                run ??= InChildProcess(config, seed, stem, args);
                runs.Add(run);
                Console.WriteLine($"[{config.Name} seed {seed}] test accuracy {run.TestAccuracy:P2}, MACs {run.Macs:N0}, params {run.Params:N0}, fit {run.FitSeconds:F0} s");
                if (seed == 1)
                    firstSeedModels[config.Name] = File.ReadAllBytes(stem + ".onnx");
            }

        var latency = Latency(args, firstSeedModels);
        var machine = MachineInfo.Current();
        var md = Markdown(args, machine, settings, runs, latency);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"), JsonSerializer.Serialize(
            new { machine, hardware = Hardware.Current.ToString(), settings, runs, latency }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), md);
        Console.WriteLine(md);
    }

    /// <summary>One fit in a child process of this program (<c>pretrained-run</c>): the backend check's verdict is
    /// process-wide, and a run whose widths oneDNN computes wrongly on this CPU (the narrow net's, on some) would
    /// otherwise train every later run on libtorch's own convolutions.</summary>
    private static Outcome InChildProcess(Config config, int seed, string stem, BenchmarkArguments args)
    {
        SingleRun.InChild($"Run '{config.Name}' seed {seed}", "pretrained-run", JsonSerializer.Serialize(config), seed.ToString(CultureInfo.InvariantCulture), stem, JsonSerializer.Serialize(args));
        return JsonSerializer.Deserialize<Outcome>(File.ReadAllText(stem + ".json"))!;
    }

    /// <summary>The child's side of <see cref="InChildProcess"/>: <c>config-json seed stem arguments-json</c>; writes
    /// <c>stem.json</c> and <c>stem.onnx</c>.</summary>
    public static void RunOne(string[] argv)
    {
        var config = JsonSerializer.Deserialize<Config>(argv[0])!;
        int seed = int.Parse(argv[1], CultureInfo.InvariantCulture);
        string stem = argv[2];
        var setup = Prepare(JsonSerializer.Deserialize<BenchmarkArguments>(argv[3])!);
        var run = Fit(config, seed, setup, stem + ".onnx");
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(run));
    }

    /// <summary>Where restoring this project's Microsoft.ML.DnnImageFeaturizer.ResNet18 reference put ResNet18.onnx.</summary>
    private static string ResNet18Path => typeof(PretrainedBenchmark).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ResNet18Onnx").Value!;

    private static Outcome Fit(Config config, int seed, Setup setup, string onnxPath)
    {
        var (args, model, train, test, settings) = (setup.Args, setup.Model, setup.Train, setup.Test, setup.Settings);
        var ml = new MLContext(seed: 1);
        SingleRun.LogFit(ml, $"{config.Name} seed {seed}");
        int size = args.ImageSize;
        var trainView = RgbImages.Load(ml, train, size, PixelEncoding.ResNet18Featurizer);
        var testView = RgbImages.Load(ml, test, size, PixelEncoding.ResNet18Featurizer);
        var options = new EdpCompressOptions
        {
            OnnxModelPath = model, ImageChannels = 3, ImageHeight = size, ImageWidth = size,
            Compress = config.Compress, Epochs = args.Epochs, BatchSize = BatchSize, NumberOfThreads = args.Threads, Seed = seed,
            // From random weights the library's from-scratch rate applies; the import's default (a tenth) is for trained weights.
            LearningRate = config.Pretrained ? null : EdpSettings.ScratchLearningRate,
            ImportedNetworkRewrite = config.Pretrained ? null : g => Narrowed(WithRandomWeights(g), config.Width),
            // This benchmark times every model itself, interleaved in one process; the fit's own proof would only add
            // minutes (a budget on MACs does not read the latency table).
            MeasureLatency = false,
            LayerNormalizedImportance = !config.RawImportance,
            PruneResidualStreams = !config.WholeStreams,
            Decompose = !config.ChannelsOnly,
        };
        var clock = Stopwatch.StartNew();
        var fitted = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options)).Fit(trainView);
        double fitSeconds = clock.Elapsed.TotalSeconds;
        var accuracy = ml.MulticlassClassification.Evaluate(fitted.Transform(testView)).MicroAccuracy;
        fitted.LastTransformer.SaveOnnx(onnxPath);
        var report = fitted.LastTransformer.Report;
        return new Outcome(config, seed, settings, accuracy, report.MacsAfter, report.ParamsAfter, fitSeconds,
            EdpSettings.From(options).Schedule.LearningRate, report.Backend ?? "-");
    }

    /// <summary>The training images, the first <paramref name="perClass"/> of each class in file order.</summary>
    internal static List<FashionMnistImage> Stratified(IReadOnlyList<FashionMnistImage> images, int perClass)
    {
        var taken = new Dictionary<string, int>();
        var kept = images.Where(i => (taken[i.Label] = taken.GetValueOrDefault(i.Label) + 1) <= perClass).ToList();
        if (taken.Values.Any(n => n < perClass) || taken.Count < FashionMnist.ClassNames.Count)
            throw new InvalidOperationException($"Expected {perClass} training images of each of the {FashionMnist.ClassNames.Count} classes; found {string.Join(", ", taken.Select(t => $"{t.Key}: {t.Value}"))}.");
        return kept;
    }

    /// <summary>The imported graph with every weight, bias and BatchNorm statistic dropped, so that the network builds
    /// from the same random initialisation as a built-in architecture; the layers and their shapes stay.</summary>
    internal static NetworkGraph WithRandomWeights(NetworkGraph graph) => graph with
    {
        Layers = graph.Layers.Select(l => l switch
        {
            ConvLayer c => c with { HasBias = c.HasBias || c.Bias is not null, Weight = null, Bias = null },
            LinearLayer f => f with { Weight = null, Bias = null },
            BatchNormLayer b => b with { Scale = null, Shift = null, Mean = null, Variance = null },
            _ => l,
        }).ToList(),
    };

    /// <summary>The graph with every conv's output channels times <paramref name="width"/> (rounded) and every reader of
    /// them resized to match, so that residual joins stay consistent; the image channels and the class count stay.
    /// Only layers that carry channels through unchanged are taken; others fail naming the layer.</summary>
    internal static NetworkGraph Narrowed(NetworkGraph graph, double width)
    {
        if (width == 1)
            return graph;
        var channels = new Dictionary<string, int> { [NetworkGraph.InputName] = graph.InChannels };
        var layers = new List<LayerNode>();
        foreach (var layer in graph.Layers)
        {
            int input = channels[layer.Input];
            LayerNode narrowed = layer switch
            {
                ConvLayer { Groups: 1, Weight: null } c => c with { InChannels = input, OutChannels = Math.Max(1, (int)Math.Round(c.OutChannels * width)) },
                BatchNormLayer { Scale: null } b => b with { Channels = input },
                LinearLayer { Weight: null } f when f.Name == graph.Output => f with { InFeatures = input },
                AddLayer a when channels[a.Inputs[1]] == input => a,
                ReluLayer or PoolLayer or PadLayer or GlobalPoolLayer { KeepMap: false } => layer,
                _ => throw new NotSupportedException($"Narrowing takes random-weight convs, BatchNorm, ReLU, pools, pads, residual adds and the classifier; found {layer.GetType().Name} '{layer.Name}'."),
            };
            channels[layer.Name] = narrowed switch
            {
                ConvLayer c => c.OutChannels,
                LinearLayer f => f.OutFeatures,
                _ => input,
            };
            layers.Add(narrowed);
        }
        return graph with { Layers = layers };
    }

    /// <summary>Median ONNX Runtime milliseconds of the first seed's models at batch 1 and 64, interleaved round by round
    /// with the library's timing sessions, the plain pretrained model first.</summary>
    private static List<LatencyRow> Latency(BenchmarkArguments args, Dictionary<string, byte[]> models)
    {
        var timers = models.Select(m => new OrtTimer(m.Value, 3, args.ImageSize, args.ImageSize)).ToList();
        try
        {
            var rows = new List<LatencyRow>();
            foreach (int batch in new[] { 1, 64 })
            {
                int rounds = args.Quick ? 5 : batch == 1 ? 101 : 21;
                var medians = OrtTimer.InterleavedMedians(timers, batch, rounds);
                rows.AddRange(models.Keys.Select((name, i) => new LatencyRow(name, batch, medians[i], medians[0] / medians[i])));
            }
            return rows;
        }
        finally
        {
            timers.ForEach(t => t.Dispose());
        }
    }

    public sealed record LatencyRow(string Model, int Batch, double MedianMs, double SpeedupOverPretrainedPlain);

    private static string Markdown(BenchmarkArguments args, MachineInfo machine, string settings, List<Outcome> runs, List<LatencyRow> latency)
    {
        var c = CultureInfo.InvariantCulture;
        var groups = runs.GroupBy(r => r.Config).Select(g => (Config: g.Key, Runs: g.ToList())).ToList();
        double Mean(List<Outcome> rs) => SampleStatistics.Of(rs.Select(r => r.TestAccuracy).ToList()).Mean;
        double Sd(List<Outcome> rs) => SampleStatistics.Of(rs.Select(r => r.TestAccuracy).ToList()).Sd;
        var plain = groups.First(g => g.Config == PretrainedPlain);
        double plainMacs = plain.Runs.Average(r => (double)r.Macs);
        string Speedup(string model, int batch) => latency.FirstOrDefault(l => l.Model == model && l.Batch == batch) is { } l
            ? $"{l.SpeedupOverPretrainedPlain:F2}x ({l.MedianMs:F1} ms)" : "-";

        var md = new StringBuilder();
        md.AppendLine(c, $"# Pretrained ResNet18 against training from scratch: Fashion-MNIST, {settings.Split(',')[0]}{(args.Quick ? " (quick)" : "")}").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads)).AppendLine();
        md.AppendLine(c, $"Scoring machine: {Hardware.Current}. Settings: {settings}. Images are the 28x28 grayscale pictures resized bilinearly to {args.ImageSize}x{args.ImageSize}, repeated over 3 channels, as pixel x 255 - 114 (the mean the featurizer's preprocessing subtracts). ")
            .Append("The pretrained runs start from ML.NET's ResNet18 (`Microsoft.ML.DnnImageFeaturizer.ResNet18`, ImageNet weights) through `OnnxModelPath` with a new 10-class head, at the imported networks' default learning rate; ")
            .Append("the from-scratch runs are the same imported graph with every weight dropped (PyTorch's default initialisation, as a built-in architecture gets), at the from-scratch default learning rate; ")
            .Append("the narrow net is that graph with every width times 0.7, trained plain. The training set is the same in every run; the seed sets weights and shuffling. ")
            .AppendLine(c, $"Test accuracy through ML.NET `Evaluate` on the ONNX model; mean and sample standard deviation over seeds {string.Join(", ", plain.Runs.Select(r => r.Seed))}. Latency: ONNX Runtime, the first seed's models, interleaved in one process, median; speed-up over the plain pretrained model. The machine is shared with other work, so times are indicative only.").AppendLine();
        md.AppendLine("| run | what | seeds | test accuracy (mean ± sd) | vs pretrained plain (pt) | MACs | MACs kept | params | fit time | learning rate | speed-up, batch 1 | speed-up, batch 64 |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (config, rs) in groups)
        {
            double macs = rs.Average(r => (double)r.Macs);
            md.AppendLine(c, $"| {config.Name} | {config.Description} | {rs.Count} | {Mean(rs) * 100:F2} ± {Sd(rs) * 100:F2} % | {(Mean(rs) - Mean(plain.Runs)) * 100:+0.00;-0.00} | {macs:N0} | {macs / plainMacs:P1} | {rs.Average(r => (double)r.Params):N0} | {rs.Average(r => r.FitSeconds):F0} s | {rs[0].LearningRate} | {Speedup(config.Name, 1)} | {Speedup(config.Name, 64)} |");
        }
        md.AppendLine().AppendLine("## What pretraining is worth").AppendLine();
        foreach (var (pretrained, scratch) in new[] { ("pretrained-plain", "scratch-plain"), ("pretrained-edp", "scratch-edp") })
            if (groups.FirstOrDefault(g => g.Config.Name == pretrained) is { Runs: { } p } && groups.FirstOrDefault(g => g.Config.Name == scratch) is { Runs: { } s })
                md.AppendLine(c, $"- {pretrained} against {scratch}: {(Mean(p) - Mean(s)) * 100:+0.00;-0.00} pt ({Mean(p) * 100:F2} ± {Sd(p) * 100:F2} % against {Mean(s) * 100:F2} ± {Sd(s) * 100:F2} %).");
        md.AppendLine().AppendLine("## Every run").AppendLine();
        md.AppendLine("| run | seed | test accuracy | MACs kept | fit time | training backend |").AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var r in runs.OrderBy(r => r.Config.Name).ThenBy(r => r.Seed))
            md.AppendLine(c, $"| {r.Config.Name} | {r.Seed} | {r.TestAccuracy:P2} | {r.Macs / plainMacs:P1} | {r.FitSeconds:F0} s | {r.Backend} |");
        return md.ToString();
    }
}
