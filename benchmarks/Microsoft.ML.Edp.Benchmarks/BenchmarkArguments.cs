namespace Microsoft.ML.Edp.Benchmarks;

public sealed record BenchmarkArguments(bool Quick, int Epochs, int Threads, string ResultsDirectory, EdpArchitecture Architecture = EdpArchitecture.VggSmall, bool Render = false)
{
    public static BenchmarkArguments Parse(string[] args)
    {
        var a = new BenchmarkArguments(false, 5, 2, Path.Combine(FindRepositoryRoot(), "benchmarks", "results"));
        for (int i = 0; i < args.Length; i++)
        {
            a = args[i] switch
            {
                "--quick" => a with { Quick = true, Epochs = 2 },
                "--render" => a with { Render = true },
                "--epochs" => a with { Epochs = int.Parse(args[++i]) },
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
