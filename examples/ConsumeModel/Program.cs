// Loads a model.zip saved by CompressEdp (for example by ./build/run-example.sh, which writes ./out/model.zip) and
// classifies a few Fashion-MNIST test images with a PredictionEngine. Scoring runs on ONNX Runtime: no libtorch needed.
//   dotnet run --project examples/ConsumeModel -c Release -- [MODEL_ZIP] [--count N]
using Microsoft.ML;
using Microsoft.ML.Edp;
using Microsoft.ML.Edp.Samples;

if (ParseArguments(args) is not var (modelPath, count))
    return 2;
if (!File.Exists(modelPath))
{
    Console.Error.WriteLine($"No model at '{Path.GetFullPath(modelPath)}'. Run ./build/run-example.sh first (it writes out/model.zip), or pass the path of a model.zip.");
    return 1;
}

var ml = new MLContext(seed: 1);
ITransformer model = EdpModel.Load(ml, modelPath, out DataViewSchema inputSchema);
// PredictedLabel is a key over the training labels; map it back to the class name.
var scoring = model.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel")
    .Fit(model.Transform(ml.Data.LoadFromEnumerable(Array.Empty<FashionMnistImage>(), inputSchema))));
using var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, ClothingPrediction>(scoring, inputSchema);

var report = EdpModel.ReadReport(modelPath);
Console.WriteLine($"{modelPath}: {report.Architecture}, {report.MacsRatio:P1} of the MACs and {report.ParamsRatio:P1} of the parameters of the plain network.");

var images = FashionMnist.Load(FashionMnist.SubsetDirectory, "t10k", count);
int correct = 0;
foreach (var (image, index) in images.Select((image, index) => (image, index)))
{
    var prediction = engine.Predict(new FashionMnistImage { Features = image.Features });
    float confidence = prediction.Score.Max();
    correct += prediction.PredictedClass == image.Label ? 1 : 0;
    Console.WriteLine($"image {index,3}: predicted {prediction.PredictedClass,-12} ({confidence:P1})  actual {image.Label}");
}
Console.WriteLine($"{correct} of {images.Count} correct.");
return 0;

static (string ModelPath, int Count)? ParseArguments(string[] args)
{
    string modelPath = Path.Combine("out", "model.zip");
    int count = 10;
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i] == "--count")
        {
            if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out count) || count <= 0)
            {
                Console.Error.WriteLine($"--count needs a positive number; found '{(i + 1 < args.Length ? args[i + 1] : "")}'.");
                return null;
            }
            i++;
        }
        else if (args[i].StartsWith("--", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: ConsumeModel [MODEL_ZIP] [--count N].");
            return null;
        }
        else
            modelPath = args[i];
    }
    return (modelPath, count);
}

/// <summary>The columns read from the scoring chain's output.</summary>
internal sealed class ClothingPrediction
{
    /// <summary>The predicted class name.</summary>
    public string PredictedClass { get; set; } = "";

    /// <summary>Class probabilities, in the label's key order.</summary>
    public float[] Score { get; set; } = [];
}
