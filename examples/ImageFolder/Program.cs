// Writes a few hundred Fashion-MNIST images as PNG files in one folder per class (the layout Model Builder reads),
// then runs the edp tool on them: compress, evaluate on the test folder, and predict two images.
//   dotnet run --project examples/ImageFolder -c Release -- [--per-class N] [--epochs N] [--target-macs R] [--work DIR]
using System.Runtime.InteropServices;
using Microsoft.ML.Edp.Cli;
using Microsoft.ML.Edp.Samples;
using SkiaSharp;
using Spectre.Console;

int perClass = 50, epochs = 5;
string? targetMacs = null;
string work = "out/image-folder";
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--per-class": perClass = int.Parse(Next()); break;
        case "--epochs": epochs = int.Parse(Next()); break;
        case "--target-macs": targetMacs = Next(); break;
        case "--work": work = Next(); break;
        default: throw new ArgumentException($"Unknown argument '{args[i]}'. Use --per-class N, --epochs N, --target-macs R, --work DIR.");
    }
}

string dataDir = FashionMnist.DefaultDirectory;
string train = Path.Combine(work, "images", "train"), test = Path.Combine(work, "images", "test"), output = Path.Combine(work, "model");
int written = WriteFolders(FashionMnist.Load(dataDir, "train"), train, perClass) + WriteFolders(FashionMnist.Load(dataDir, "t10k"), test, perClass / 2);
Console.WriteLine($"Wrote {written} PNG files from {dataDir} to '{train}' and '{test}'.");

string[][] commands =
[
    ["compress", "--dataset", train, "--test-dataset", test, "--output", output, "--epochs", epochs.ToString(), "--batch-size", "32", "--force",
        .. (targetMacs is null ? Array.Empty<string>() : ["--target-macs", targetMacs])],
    ["evaluate", "--model", Path.Combine(output, "model.zip"), "--dataset", test],
    ["predict", "--model", Path.Combine(output, "model.zip"), .. Directory.GetDirectories(test).Order().Take(2).Select(d => Directory.GetFiles(d).Order().First())],
];
var console = AnsiConsole.Console;
if (Console.IsOutputRedirected)
    console.Profile.Width = 4000;
foreach (var command in commands)
{
    Console.WriteLine();
    Console.WriteLine("$ edp " + string.Join(" ", command.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)));
    int code = EdpApp.Run(command, console);
    if (code != 0)
        return code;
}
Console.WriteLine();
Console.WriteLine($"The model, its report, charts and a consumption project are in '{output}'.");
return 0;

// The first perClass images of each class, as 8-bit grayscale PNGs named by index; '/' in a class name becomes '-'.
static int WriteFolders(IReadOnlyList<FashionMnistImage> images, string folder, int perClass)
{
    var counts = new Dictionary<string, int>();
    foreach (var image in images)
    {
        string label = image.Label.Replace('/', '-');
        int n = counts.GetValueOrDefault(label);
        if (n >= perClass)
            continue;
        counts[label] = n + 1;
        Directory.CreateDirectory(Path.Combine(folder, label));
        using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        Marshal.Copy(image.Features.Select(p => (byte)Math.Round(p * 255)).ToArray(), 0, bitmap.GetPixels(), FashionMnistImage.PixelCount);
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(Path.Combine(folder, label, $"{n:D4}.png"), png.ToArray());
    }
    return counts.Values.Sum();
}
