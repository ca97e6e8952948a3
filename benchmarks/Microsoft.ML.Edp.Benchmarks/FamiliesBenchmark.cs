using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Samples;
using Microsoft.ML.Edp.Tests;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Whether the common CNN families import, faithfully, and compress: each family as torch.onnx.export writes
/// torchvision's model (<see cref="OnnxFamilyModels"/>, random weights, BN as nodes), and every *.onnx in --onnx-dir
/// (real exports made elsewhere, e.g. by export-torchvision.py), is imported at --image-size; the imported network's
/// output is compared with ONNX Runtime's on the file; then CompressEdp fits it with its defaults (half the MACs, the
/// latency proof) for a short run on Fashion-MNIST read as 3-channel images in ImageNet's encoding, in a child process
/// per model, and the table gives the MACs kept, the test accuracy and the measured ONNX Runtime speed-up over the
/// plain export at batch 1 and 64; beside it, the accuracy of a plain fit of the same network (same data, steps and
/// learning rate, no compression), so that a low accuracy can be told apart as the compression's or the family's.</summary>
public static class FamiliesBenchmark
{
    public const int BatchSize = 32;

    /// <summary>The families --quick runs: the two smallest.</summary>
    private static readonly string[] QuickFamilies = ["mobilenet_v3_small", "shufflenet_v2_x0_5"];

    /// <summary>Test images the import is compared with ONNX Runtime on.</summary>
    private const int FaithfulImages = 8;

    /// <summary>One model: a family of <see cref="OnnxFamilyModels"/> (<see cref="Path"/> null) or a file.</summary>
    public sealed record Model(string Name, [property: JsonIgnore] string? Path)
    {
        public string Source => Path is null ? "builder (random weights)" : System.IO.Path.GetFileName(Path);
    }

    /// <summary>One model's import, its compressed fit and its plain fit (null where it was not imported, or in results
    /// written before plain fits were run).</summary>
    public sealed record Row(Model Model, FamilyRun.Import Import, FamilyRun.Fit? Fit, FamilyRun.Fit? Plain = null);

    /// <summary>The invocation's arguments with its default epochs, the data and the settings every fit records.</summary>
    public sealed record Data(BenchmarkArguments Args, List<FashionMnistImage> Train, IReadOnlyList<FashionMnistImage> Test, string Settings);

    public static Data Prepare(BenchmarkArguments args)
    {
        if (args.ImageSize is < 32 or > 224)
            throw new ArgumentOutOfRangeException(nameof(args), args.ImageSize, $"--image-size must be 32 to 224; found {args.ImageSize}.");
        if (!args.EpochsGiven)
            args = args with { Epochs = 1 };
        int perClass = args.Quick ? 10 : (args.TrainImages ?? 1_000) / FashionMnist.ClassNames.Count;
        int testCount = args.Quick ? 100 : args.TestImages;
        var train = PretrainedBenchmark.Stratified(FashionMnist.Load(args.DataDirectory, "train"), perClass);
        var test = FashionMnist.Load(args.DataDirectory, "t10k", testCount);
        string settings = $"{perClass} per class, {test.Count} test images{(args.Quick ? " of the embedded subset" : "")}, {args.ImageSize}x{args.ImageSize}, {args.Epochs} epoch{(args.Epochs == 1 ? "" : "s")}, batch {BatchSize}{(args.WarmupSteps > 0 ? $", learning-rate warm-up {args.WarmupSteps} steps" : "")}, {args.Threads} threads";
        return new Data(args, train, test, settings);
    }

    /// <summary>The builder's families (the two smallest with --quick), then the files of --onnx-dir; --only keeps the
    /// names it lists (a file's name is its name without .onnx).</summary>
    public static List<Model> Models(BenchmarkArguments args)
    {
        var models = (args.Quick ? QuickFamilies : OnnxFamilyModels.Names).Select(n => new Model(n, null)).ToList();
        if (args.OnnxDirectory is { } dir)
        {
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"--onnx-dir: no folder '{dir}'.");
            models.AddRange(Directory.EnumerateFiles(dir, "*.onnx").Order(StringComparer.Ordinal).Select(f => new Model(Path.GetFileNameWithoutExtension(f), f)));
        }
        if (args.Only is { } only)
        {
            var all = OnnxFamilyModels.Names.Concat(models.Select(m => m.Name)).Distinct().ToList();
            if (only.FirstOrDefault(n => !all.Contains(n)) is { } unknown)
                throw new ArgumentException($"--only: no model '{unknown}'; expected some of {string.Join(", ", all)}.");
            models = OnnxFamilyModels.Names.Where(only.Contains).Select(n => new Model(n, null))
                .Concat(models.Where(m => m.Path is not null && only.Contains(m.Name))).ToList();
        }
        return models;
    }

    /// <summary>What families.json holds.</summary>
    private sealed record Results(MachineInfo Machine, string Hardware, string Settings, List<Row> Rows);

    public static void Run(BenchmarkArguments args)
    {
        string name = CompressionBenchmark.ResultsName("families", args);
        if (args.Render)
        {
            // The tables again from the JSON, running nothing.
            var saved = JsonSerializer.Deserialize<Results>(File.ReadAllText(Path.Combine(args.ResultsDirectory, name + ".json")), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
            File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), Markdown(args, saved.Machine, saved.Hardware, saved.Settings, saved.Rows));
            return;
        }
        var data = Prepare(args);
        args = data.Args;
        string workDir = Path.Combine(args.ResultsDirectory, "runs", name);
        Directory.CreateDirectory(workDir);
        Console.WriteLine($"Families benchmark: {data.Settings}.");
        var images = FamilyRun.Images(data.Test, FaithfulImages, args.ImageSize);

        var rows = new List<Row>();
        foreach (var model in Models(args))
        {
            string path = model.Path ?? Path.Combine(workDir, model.Name + ".onnx");
            if (model.Path is null)
                File.WriteAllBytes(path, OnnxFamilyModels.Build(model.Name).Bytes);
            var import = FamilyRun.CheckImport(File.ReadAllBytes(path), model.Name, args.ImageSize, images, args.Threads);
            Console.WriteLine($"[{model.Name}] " + (import.Imported ? $"imported, {import.Layers} layers, max |difference| from ONNX Runtime {import.MaxDifference:E2} (largest |output| {import.LargestOutput:F2})" : $"refused: {import.Refusal}"));
            var plain = import.Imported ? FitInChild(model, path, Path.Combine(workDir, model.Name + "-plain"), data, compress: false) : null;
            if (plain is not null)
                Console.WriteLine($"[{model.Name}] plain: " + (plain.Failure ?? $"test accuracy {plain.TestAccuracy:P2}, fit {plain.FitSeconds:F0} s"));
            var fit = import.Imported ? FitInChild(model, path, Path.Combine(workDir, model.Name + "-fit"), data, compress: true) : null;
            if (fit is not null)
                Console.WriteLine($"[{model.Name}] " + (fit.Failure ?? $"MACs kept {(double)fit.MacsAfter / fit.MacsBefore:P1}, test accuracy {fit.TestAccuracy:P2}, speed-up {fit.Speedup1:F2}x at batch 1, {fit.Speedup64:F2}x at 64, fit {fit.FitSeconds:F0} s"));
            rows.Add(new Row(model, import, fit, plain));
        }

        var results = new Results(MachineInfo.Current(), Hardware.Current.ToString(), data.Settings, rows);
        var md = Markdown(args, results.Machine, results.Hardware, results.Settings, rows);
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".json"), JsonSerializer.Serialize(
            new { machine = results.Machine, hardware = results.Hardware, settings = results.Settings, rows }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(args.ResultsDirectory, name + ".md"), md);
        Console.WriteLine(md);
    }

    /// <summary>The fit, compressed or plain, in a child process (<c>families-run</c>): the backend check's verdict is
    /// process-wide, and one family's native failure should not end the others; --resume reuses a fit that succeeded
    /// with the same settings.</summary>
    private static FamilyRun.Fit FitInChild(Model model, string path, string stem, Data data, bool compress)
    {
        if (data.Args.Resume && File.Exists(stem + ".json") && JsonSerializer.Deserialize<FamilyRun.Fit>(File.ReadAllText(stem + ".json")) is { } done
            && done.Settings == data.Settings && done.Failure is null)
            return done;
        File.Delete(stem + ".json");
        try
        {
            SingleRun.InChild($"The {(compress ? "" : "plain ")}fit of '{model.Name}'", "families-run", path, (model.Path is null).ToString(), stem, JsonSerializer.Serialize(data.Args), compress.ToString());
        }
        catch (InvalidOperationException e) when (!File.Exists(stem + ".json"))
        {
            return new FamilyRun.Fit(data.Settings, Failure: e.Message);
        }
        var fit = JsonSerializer.Deserialize<FamilyRun.Fit>(File.ReadAllText(stem + ".json"))!;
        // An exception's message may name files under the results or the home folder; the committed results do not.
        return fit with { Failure = fit.Failure is { } failure ? MachineInfo.WithoutHomeFolder(failure.Replace(data.Args.ResultsDirectory, "results")) : null };
    }

    private static string Markdown(BenchmarkArguments args, MachineInfo machine, string hardware, string settings, List<Row> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(c, $"# CNN families: import, faithfulness and a short compression{(args.Quick ? " (quick)" : "")}").AppendLine();
        md.AppendLine(machine.ToMarkdown(args.Threads)).AppendLine();
        md.Append(c, $"Scoring machine: {hardware}. Settings: {settings}. ")
            .Append("Each family is written as torch.onnx.export writes torchvision's model at opset 13 in eval mode (the test ONNX builder's `OnnxFamilyModels`: torchvision's layers, widths, strides and pools, random weights, BN as nodes); files from `--onnx-dir` are read as they are. ")
            .Append(c, $"Faithful: the largest |difference| between the imported network (compressed-aware blocks, before any training) and ONNX Runtime on the file, over {FaithfulImages} test images, beside the largest |output|. ")
            .Append("Compress: `CompressEdp` with its defaults (TargetMacsRatio 0.5, the measured latency proof) on Fashion-MNIST resized bilinearly and repeated over 3 channels, in ImageNet's (x - mean) / std, from the random weights at the from-scratch learning rate (a file's weights at the imported default); ")
            .Append("one child process per model. Plain: a fit of the same network with plain layers (`Compress = false`: no budget, no Pruning & Merging), same data, steps, learning rate and seed, in a child process of its own; its test accuracy is its export's in ONNX Runtime. MACs kept: after Pruning & Merging over the plain network with the fitted 10-class head. Test accuracy: the exported model in ONNX Runtime, and in brackets the trained network before Pruning & Merging, on the test images (the fit's validation set). Speed-up: the report's measured ONNX Runtime latency of the compressed model against the plain network's export, interleaved, median. ")
            .Append("The machine is shared with other work, so times are indicative only. ")
            .AppendLine("A run this short, far below the schedule's MinSelectionSteps and MinRecoverySteps (each fit warns so), measures whether a family imports, compresses and runs faster, not how accurate it can be; the accuracies are of random weights after a few dozen steps.").AppendLine();
        md.AppendLine("| model | source | imported | faithful: max diff (largest output) | MACs before | MACs kept | params kept | plain: test accuracy | compressed: test accuracy (before PM) | speed-up, batch 1 | speed-up, batch 64 | fit time (plain) | note |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (model, import, fit, plain) in rows)
        {
            string faithful = import.MaxDifference is { } d ? $"{d:0.0E+0} ({import.LargestOutput:F2})" : "-";
            string Speedup(double? s) => s is { } v ? $"{v:F2}x" : "-";
            string note = string.Join("; ", new[] { import.Refusal, fit?.Failure, plain?.Failure is { } p ? "plain fit: " + p : null }.OfType<string>());
            string plainAccuracy = plain is { Failure: null } ? string.Create(c, $"{plain.TestAccuracy:P2}") : "-";
            string plainTime = plain is { Failure: null } ? string.Create(c, $" ({plain.FitSeconds:F0} s)") : "";
            md.Append(c, $"| {model.Name} | {model.Source} | {(import.Imported ? "yes" : "no")} | {faithful} | ");
            md.AppendLine(fit is { Failure: null } f
                ? string.Create(c, $"{f.MacsBefore:N0} | {(double)f.MacsAfter / f.MacsBefore:P1} | {(double)f.ParamsAfter / f.ParamsBefore:P1} | {plainAccuracy} | {f.TestAccuracy:P2} ({f.TestAccuracyBeforePruning:P2}) | {Speedup(f.Speedup1)} | {Speedup(f.Speedup64)} | {f.FitSeconds:F0} s{plainTime} | {note.Replace("|", "\\|")} |")
                : $"- | - | - | {plainAccuracy} | - | - | - | - | {note.Replace("|", "\\|")} |");
        }
        md.AppendLine().AppendLine("Predicted speed-ups (the latency table's) beside the measured ones, the compressed export's largest |logit difference| from the float64 reference (the fit's export check), and the training backend:").AppendLine();
        md.AppendLine("| model | predicted, batch 1 | measured, batch 1 | predicted, batch 64 | measured, batch 64 | export check | learning rate | training backend |").AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (model, _, fit, _) in rows.Where(r => r.Fit is { Failure: null }))
            md.AppendLine(c, $"| {model.Name} | {fit!.PredictedSpeedup1:F2}x | {fit.Speedup1:F2}x | {fit.PredictedSpeedup64:F2}x | {fit.Speedup64:F2}x | {fit.ExportDifference:0.0E+0} | {fit.LearningRate} | {fit.Backend} |");
        return md.ToString();
    }
}
