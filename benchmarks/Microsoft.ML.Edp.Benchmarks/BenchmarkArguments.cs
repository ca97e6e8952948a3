namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>The command line. <see cref="Seeds"/>: runs per configuration (seeds 1..N; --quick: one); <see cref="TrainImages"/>: the
/// first that many training images only (--short: 20,000 images and 3 epochs); <see cref="Resume"/>: reuse the result
/// of a run already on disk; <see cref="Only"/>: run just these configurations (the table shows whatever is on disk).
/// <see cref="ImageSize"/> and <see cref="TestImages"/>: the pretrained benchmark's image side and test images;
/// <see cref="EpochsGiven"/>: --epochs was given, so that a benchmark with its own default epochs keeps it otherwise.
/// <see cref="OnnxDirectory"/>: the families benchmark's folder of further *.onnx models; <see cref="WarmupSteps"/>: its
/// fits' <see cref="EdpCompressOptions.LearningRateWarmupSteps"/>.</summary>
public sealed record BenchmarkArguments(bool Quick, int Epochs, int Threads, string ResultsDirectory, EdpArchitecture Architecture = EdpArchitecture.VggSmall, bool Render = false,
    int Seeds = 3, int? TrainImages = null, bool Resume = false, string[]? Only = null, int ImageSize = 64, int TestImages = 2_000, bool EpochsGiven = false,
    string? OnnxDirectory = null, int WarmupSteps = 0)
{
    public static BenchmarkArguments Parse(string[] args)
    {
        var a = new BenchmarkArguments(false, 5, 2, Path.Combine(FindRepositoryRoot(), "benchmarks", "results"));
        for (int i = 0; i < args.Length; i++)
        {
            a = args[i] switch
            {
                "--quick" => a with { Quick = true, Epochs = 2, Seeds = 1 },
                "--render" => a with { Render = true },
                "--short" => a with { TrainImages = 20_000, Epochs = 3 },
                "--train-images" => a with { TrainImages = int.Parse(args[++i]) },
                "--seeds" => a with { Seeds = int.Parse(args[++i]) },
                "--resume" => a with { Resume = true },
                "--only" => a with { Only = args[++i].Split(',') },
                "--image-size" => a with { ImageSize = int.Parse(args[++i]) },
                "--test-images" => a with { TestImages = int.Parse(args[++i]) },
                "--onnx-dir" => a with { OnnxDirectory = args[++i] },
                "--warmup-steps" => a with { WarmupSteps = int.Parse(args[++i]) },
                "--epochs" => a with { Epochs = int.Parse(args[++i]), EpochsGiven = true },
                "--threads" => a with { Threads = int.Parse(args[++i]) },
                "--results" => a with { ResultsDirectory = args[++i] },
                "--architecture" => a with { Architecture = Enum.Parse<EdpArchitecture>(args[++i], ignoreCase: true) },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }
        return a;
    }

    /// <summary>Full Fashion-MNIST from the Debian package, or the embedded subset in --quick mode.</summary>
    public string DataDirectory => Quick ? Samples.FashionMnist.SubsetDirectory : Samples.FashionMnist.DefaultDirectory;

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Edp.sln")))
                return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
