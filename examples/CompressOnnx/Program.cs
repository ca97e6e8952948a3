// Compresses an ONNX CNN you already have: imports it, fits its head to Fashion-MNIST's 10 classes if needed, trains
// it with EDP towards a MACs budget and writes the smaller model.
//   dotnet run --project examples/CompressOnnx -c Release -- --model FILE [--target-macs 0.5] [--epochs N] [--learning-rate R] [--data DIR] [--output DIR]
// Any model the importer reads works (see docs/compressing-your-onnx-model.md); the plain run of the FashionMnist
// example writes one: dotnet run --project examples/FashionMnist -c Release -- --plain --output out/plain
using Microsoft.ML;
using Microsoft.ML.Edp;
using Microsoft.ML.Edp.Samples;

string? model = null, dataDir = null, output = "out/compressed-onnx";
double target = 0.5;
double? learningRate = null;
int epochs = 3;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--model": model = Next(); break;
        case "--target-macs": target = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--epochs": epochs = int.Parse(Next()); break;
        case "--learning-rate": learningRate = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
        case "--data": dataDir = Next(); break;
        case "--output": output = Next(); break;
        default: Console.Error.WriteLine($"Unknown argument '{args[i]}'. Use --model FILE, --target-macs R, --epochs N, --learning-rate R, --data DIR, --output DIR."); return 2;
    }
}
if (model is null)
{
    Console.Error.WriteLine("--model FILE is required: an ONNX CNN with one [N, 1, 28, 28] image input.");
    return 2;
}
dataDir ??= FashionMnist.DefaultDirectory;

var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress", StringComparison.Ordinal)) Console.WriteLine(e.Message); };
var train = ml.Data.LoadFromEnumerable(FashionMnist.Load(dataDir, "train"));
var test = ml.Data.LoadFromEnumerable(FashionMnist.Load(dataDir, "t10k"));
var toKey = ml.Transforms.Conversion.MapValueToKey("Label");

EdpCompressTransformer edp;
try
{
    var fitted = toKey.Append(ml.Transforms.CompressEdp(new EdpCompressOptions
    {
        OnnxModelPath = model, TargetMacsRatio = target, Epochs = epochs, Seed = 1,
        // The imported weights are trained already, and an exported model has its BatchNorm folded away: start lower
        // than the default 0.05, which is meant for training from scratch with BN.
        LearningRate = learningRate,
        ValidationSet = toKey.Fit(train).Transform(test),
    })).Fit(train);
    edp = fitted.LastTransformer;
    Console.WriteLine($"Test accuracy: {ml.MulticlassClassification.Evaluate(fitted.Transform(test)).MicroAccuracy:P2}");
}
catch (EdpOnnxImportException e)
{
    Console.Error.WriteLine($"The model cannot be imported: {e.Message}");
    return 1;
}

Directory.CreateDirectory(output);
edp.SaveOnnx(Path.Combine(output, "model.onnx"));
Console.WriteLine(edp.Report.ToMarkdown());
Console.WriteLine($"Wrote {Path.GetFullPath(Path.Combine(output, "model.onnx"))}: MACs {edp.Report.MacsRatio:P1} of the imported model's.");
return 0;
