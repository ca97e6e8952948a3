// Trains and compresses a VGG-S classifier on Fashion-MNIST with EDP, evaluates it through ML.NET, saves the model
// and prints the compression report.
//   dotnet run --project examples/FashionMnist -c Release -- [--data DIR] [--epochs N] [--train-limit N] [--plain] [--output DIR]
// Data: DIR, else the Debian package dataset-fashion-mnist when installed, else the subset shipped beside this program.
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Edp;
using Microsoft.ML.Edp.Samples;

var arguments = ExampleArguments.Parse(args);
string dataDir = arguments.DataDirectory ?? FashionMnist.DefaultDirectory;
var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress", StringComparison.Ordinal)) Console.WriteLine(e.Message); };

var train = ml.Data.LoadFromEnumerable(FashionMnist.Load(dataDir, "train", arguments.TrainLimit));
var test = ml.Data.LoadFromEnumerable(FashionMnist.Load(dataDir, "t10k"));
Console.WriteLine($"Fashion-MNIST from {dataDir}: {train.GetRowCount()} training and {test.GetRowCount()} test images.");

var toKey = ml.Transforms.Conversion.MapValueToKey("Label");
var pipeline = toKey.Append(ml.Transforms.CompressEdp(new EdpCompressOptions
{
    ImageChannels = 1, ImageHeight = 28, ImageWidth = 28,
    Epochs = arguments.Epochs, BatchSize = 128, Seed = 1,
    NumberOfThreads = arguments.Threads,
    Compress = !arguments.Plain,
    ValidationSet = toKey.Fit(train).Transform(test),
}));

var clock = Stopwatch.StartNew();
var model = pipeline.Fit(train);
Console.WriteLine($"Fit took {clock.Elapsed.TotalSeconds:F1} s.");
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
var edp = model.LastTransformer;

Directory.CreateDirectory(arguments.OutputDirectory);
string zipPath = Path.GetFullPath(Path.Combine(arguments.OutputDirectory, "model.zip"));
string onnxPath = Path.GetFullPath(Path.Combine(arguments.OutputDirectory, "model.onnx"));
ml.Model.Save(model, train.Schema, zipPath);
edp.SaveOnnx(onnxPath);
File.WriteAllText(Path.Combine(arguments.OutputDirectory, "report.md"), edp.Report.ToMarkdown());
File.WriteAllText(Path.Combine(arguments.OutputDirectory, "report.json"), edp.Report.ToJson());

Console.WriteLine();
Console.WriteLine(edp.Report.ToMarkdown());
Console.WriteLine($"Test accuracy (ML.NET Evaluate, ONNX Runtime): {metrics.MicroAccuracy:P2}");
Console.WriteLine($"ONNX model: {new FileInfo(onnxPath).Length:N0} bytes; MACs {edp.Report.MacsRatio:P1} and parameters {edp.Report.ParamsRatio:P1} of the plain network.");
Console.WriteLine($"Saved {zipPath} and {onnxPath}.");

internal sealed record ExampleArguments(string? DataDirectory, int Epochs, int TrainLimit, int? Threads, bool Plain, string OutputDirectory)
{
    public static ExampleArguments Parse(string[] args)
    {
        var a = new ExampleArguments(null, 5, int.MaxValue, null, false, "out");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            a = args[i] switch
            {
                "--data" => a with { DataDirectory = Next() },
                "--epochs" => a with { Epochs = int.Parse(Next()) },
                "--train-limit" => a with { TrainLimit = int.Parse(Next()) },
                "--threads" => a with { Threads = int.Parse(Next()) },
                "--plain" => a with { Plain = true },
                "--output" => a with { OutputDirectory = Next() },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'. Use --data DIR, --epochs N, --train-limit N, --threads N, --plain, --output DIR."),
            };
        }
        return a;
    }
}
