using System.Diagnostics;
using Microsoft.ML.Edp.Backend;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The test assembly's own entry point, for tests that must watch a fit from outside: a native fault would take
/// the test host down with it. xunit never calls it; <see cref="Run"/> starts it as a child process.</summary>
public static class ChildProcessProgram
{
    /// <summary>The libtorch settings a fit applies before its first torch call, here applied before any test's.</summary>
    /// <remarks>oneDNN is switched off for the whole test process. The switch is process-wide, and a fit whose shapes
    /// oneDNN gets wrong (as on an AMD EPYC here) turns it off mid-run; test classes run in parallel, so a test that
    /// compares two of its own fits bit for bit (checkpoint resume) could get one of each backend. The oneDNN verdict
    /// itself is tested in child processes and with injected switches.</remarks>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void PrepareLibTorch()
    {
        TorchRuntime.PrepareProcess();
        LibTorchSwitches.TrySetOneDnn(false);
    }

    /// <summary><c>compress-onnx MODEL</c>: one epoch of CompressEdp with the default options on the embedded subset,
    /// from the ONNX model at MODEL; prints the report and exits 0.</summary>
    public static int Main(string[] args)
    {
        if (args is not ["compress-onnx", var model])
        {
            Console.Error.WriteLine("usage: compress-onnx MODEL");
            return 2;
        }
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress")) Console.WriteLine(e.Message); };
        var options = new EdpCompressOptions { OnnxModelPath = model, Epochs = 1, NumberOfThreads = 2 };
        var fitted = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options)).Fit(ml.Data.LoadFromEnumerable(TestData.Train));
        Console.WriteLine(fitted.LastTransformer.Report.ToMarkdown());
        return 0;
    }

    public sealed record Outcome(int ExitCode, string Output);

    /// <summary>Runs <see cref="Main"/> with <paramref name="args"/> in a child process under the test host's runtime and
    /// dependencies.</summary>
    public static Outcome Run(params string[] args)
    {
        var assembly = typeof(ChildProcessProgram).Assembly.Location;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["exec", "--depsfile", Path.ChangeExtension(assembly, ".deps.json"), "--runtimeconfig", Path.ChangeExtension(assembly, ".runtimeconfig.json"), assembly, .. args])
            start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        return new Outcome(child.ExitCode, stdout + stderr.Result);
    }
}
