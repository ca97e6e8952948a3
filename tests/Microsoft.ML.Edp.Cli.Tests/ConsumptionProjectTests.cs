using System.Diagnostics;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>The generated consumption project builds (against this checkout's library, since the package is not
/// published here) and predicts the label <c>edp predict</c> prints.</summary>
public sealed class ConsumptionProjectTests(CompressedFolderFixture run) : IClassFixture<CompressedFolderFixture>
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void TheGeneratedProjectBuildsAndPredictsTheSameLabelAsEdpPredict()
    {
        Assert.True(run.ExitCode == 0, run.Output);
        string project = Path.Combine(run.OutputFolder, "EdpModel.ConsoleApp");
        string library = Path.Combine(RepositoryRoot(), "src", "Microsoft.ML.Edp", "Microsoft.ML.Edp.csproj");
        var (buildCode, buildOutput) = Dotnet(project, "build", "-c", Configuration, "-nodeReuse:false", $"-p:EdpLibraryProject={library}");
        Assert.True(buildCode == 0, buildOutput);

        string image = Directory.GetFiles(Directory.GetDirectories(run.TestFolder).Order().Skip(3).First()).Order().First();
        var (code, output) = Dotnet(project, Path.Combine(project, "bin", Configuration, "net10.0", "EdpModel.ConsoleApp.dll"), image);
        Assert.True(code == 0, output);
        string generatedLabel = output.Trim().Split('\t')[0];

        var (predictCode, predicted) = CliRunner.Run("predict", "--model", run.ModelPath, "--top", "1", image);
        Assert.True(predictCode == 0, predicted);
        Assert.StartsWith($"{image}: {generatedLabel} (", predicted);
    }

    private static (int Code, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        // The test host's MSBuild variables would point a nested build at the test run's own SDK resolution.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray())
            start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Microsoft.ML.Edp.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No Microsoft.ML.Edp.sln above '{AppContext.BaseDirectory}'.");
    }
}
