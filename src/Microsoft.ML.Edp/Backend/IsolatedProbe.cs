using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Backend;

/// <summary>Runs <see cref="NumericProbe"/> on CPU shapes in a child process, so that a native fault in libtorch (a
/// SIGFPE in oneDNN's backward was seen on an AMD EPYC) ends the child and not the user's app.</summary>
/// <remarks>The child is this same app, started again with this assembly as a .NET startup hook: the hook runs the
/// probe and exits before the app's own Main would run, and the app's dependency manifest lets the child load the same
/// TorchSharp and libtorch. Where startup hooks are disabled, or the app's launcher cannot be found, the probe reports
/// itself unavailable and the caller takes the path that needs no isolation.</remarks>
internal static class IsolatedProbe
{
    internal const string RequestVariable = "EDP_BACKEND_PROBE_REQUEST";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>What the child was asked to run.</summary>
    internal sealed record Request(ProbeShape[] Shapes, int Threads, string ResultPath);

    /// <summary>The child's answer: a result per completed shape, in order; <see cref="Crashed"/> when it ended
    /// abnormally, while running the shape after the last completed one.</summary>
    public sealed record Outcome(IReadOnlyList<ProbeResult> Results, bool Crashed, string Detail);

    /// <summary>Runs the shapes in a child with <paramref name="environment"/> added to this process's environment;
    /// null when no child can be started here.</summary>
    public static Outcome? Run(IReadOnlyList<ProbeShape> shapes, int threads, IReadOnlyDictionary<string, string> environment)
    {
        if (Launcher() is not { } launcher)
            return null;
        var folder = Directory.CreateTempSubdirectory("edp-probe-");
        try
        {
            var requestPath = Path.Combine(folder.FullName, "request.json");
            var resultPath = Path.Combine(folder.FullName, "results.jsonl");
            File.WriteAllText(requestPath, JsonSerializer.Serialize(new Request(shapes.ToArray(), threads, resultPath)));
            var start = new ProcessStartInfo(launcher.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in launcher.Arguments)
                start.ArgumentList.Add(argument);
            foreach (var (name, value) in environment)
                start.Environment[name] = value;
            string hooks = typeof(IsolatedProbe).Assembly.Location;
            start.Environment["DOTNET_STARTUP_HOOKS"] = start.Environment.TryGetValue("DOTNET_STARTUP_HOOKS", out var existing) && !string.IsNullOrEmpty(existing)
                ? existing + Path.PathSeparator + hooks : hooks;
            start.Environment[RequestVariable] = requestPath;

            using var child = TryStart(start);
            if (child is null)
                return null;
            var stderr = child.StandardError.ReadToEndAsync();
            _ = child.StandardOutput.ReadToEndAsync();
            bool exited = child.WaitForExit(Timeout);
            if (!exited)
                child.Kill(entireProcessTree: true);
            child.WaitForExit();
            var lines = File.Exists(resultPath) ? File.ReadAllLines(resultPath) : [];
            if (lines.FirstOrDefault() != "ready")
                return null; // the hook never ran: the child was not a probe
            var results = lines.Skip(1).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<ProbeResult>(l)!).ToList();
            bool crashed = !exited || child.ExitCode != 0 || results.Count < shapes.Count;
            string detail = !exited ? $"timed out after {Timeout.TotalMinutes:0} minutes" : $"exit code {child.ExitCode}";
            string lastError = stderr.Result.Trim();
            if (crashed && lastError.Length > 0)
                detail += $": {lastError[Math.Max(0, lastError.Length - 300)..]}";
            return new Outcome(results, crashed, detail);
        }
        finally
        {
            try { folder.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Runs in the child, from the startup hook: probes each shape and appends its result, so that a crash
    /// leaves the completed ones behind, then exits.</summary>
    internal static void RunIfRequested()
    {
        if (Environment.GetEnvironmentVariable(RequestVariable) is not { Length: > 0 } requestPath)
            return;
        int exitCode = 0;
        try
        {
            var request = JsonSerializer.Deserialize<Request>(File.ReadAllText(requestPath))!;
            using var results = new StreamWriter(request.ResultPath) { AutoFlush = true };
            results.WriteLine("ready");
            LibTorchSwitches.TryDisableNnpack();
            torch.set_num_threads(request.Threads);
            foreach (var shape in request.Shapes)
                results.WriteLine(JsonSerializer.Serialize(NumericProbe.Run(shape, CPU)));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e.Message);
            exitCode = 3;
        }
        Environment.Exit(exitCode);
    }

    private static Process? TryStart(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // the launcher cannot be executed here: no isolation, which the caller handles
        }
    }

    private sealed record LaunchCommand(string Path, IReadOnlyList<string> Arguments);

    /// <summary>How to start this app again: the same executable, and under the dotnet host, the same entry assembly,
    /// dependency manifest and runtime configuration.</summary>
    private static LaunchCommand? Launcher()
    {
        if (AppContext.TryGetSwitch("System.StartupHookProvider.IsSupported", out bool supported) && !supported)
            return null;
        if (Environment.ProcessPath is not { } processPath || System.Reflection.Assembly.GetEntryAssembly()?.Location is not { Length: > 0 } entry)
            return null;
        if (!Path.GetFileNameWithoutExtension(processPath).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            return new LaunchCommand(processPath, []);
        var deps = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string)?.Split(';').FirstOrDefault(File.Exists); // the app's manifest, then the frameworks'
        if (deps is null)
            return null;
        var config = deps[..^".deps.json".Length] + ".runtimeconfig.json";
        if (!File.Exists(config))
            config = Path.ChangeExtension(entry, ".runtimeconfig.json");
        return File.Exists(config) ? new LaunchCommand(processPath, ["exec", "--depsfile", deps, "--runtimeconfig", config, entry]) : null;
    }
}
