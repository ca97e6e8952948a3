using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Backend;

/// <summary>What a fit trains on, as checked: a description for the log and the report, and the check's cost.</summary>
internal sealed record BackendVerdict(string Description, bool OneDnn, int ShapesChecked, double Seconds);

/// <summary>Verifies libtorch's float32 convolutions before a fit trusts them: every conv and linear call the fit will
/// make runs forward and backward in float32 and is compared with float64 (<see cref="NumericProbe"/>). On the CPU,
/// oneDNN is checked in a child process (<see cref="IsolatedProbe"/>); if it is wrong, or crashes, oneDNN is switched
/// off for the process and the remaining native path is checked in-process. A backend that still fails stops the fit
/// with the shapes named. Verdicts are kept per process and per machine (<see cref="MachineIdentity"/>) in the user's
/// cache folder, so a repeated fit pays nothing.</summary>
/// <remarks>libtorch 2.10's oneDNN convolutions were wrong by 10 to 25 (or NaN) on outputs of order 10 for small
/// shapes on an AMD EPYC, under both its default ISA and an AVX2 cap, and one backward pass died of SIGFPE. They were
/// right on other machines, where oneDNN is several times faster than the fallback, hence a check rather than a
/// blanket switch.</remarks>
internal sealed class BackendCheck(
    Func<IReadOnlyList<ProbeShape>, IsolatedProbe.Outcome?> isolated,
    Func<ProbeShape, Device, ProbeResult> inProcess,
    Func<bool?> oneDnnEnabled,
    Func<bool, bool> setOneDnn,
    string? cacheFolder,
    Dictionary<string, bool> processVerdicts)
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, bool> ThisProcess = new();
    internal static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The check as a fit runs it: the real probes and switch, and the user's cache folder.</summary>
    public static BackendCheck ForThisProcess(int threads) => new(
        shapes => IsolatedProbe.Run(shapes, threads, TorchRuntime.ChildEnvironment),
        NumericProbe.Run,
        () => LibTorchSwitches.OneDnnEnabled,
        LibTorchSwitches.TrySetOneDnn,
        UserCache.Folder("backend-check"),
        ThisProcess);

    /// <summary>Makes sure <paramref name="shapes"/> compute right on <paramref name="device"/>, switching oneDNN off if
    /// it must; throws when no backend computes them right.</summary>
    public BackendVerdict Ensure(IReadOnlyList<ProbeShape> shapes, Device device, Action<string> info, Action<string> warning)
    {
        lock (Gate)
        {
            var clock = Stopwatch.StartNew();
            shapes = shapes.Select(NumericProbe.Affordable).Distinct().ToList();
            double tolerance = NumericProbe.Tolerance(device);
            if (device.type != DeviceType.CPU)
            {
                var failed = shapes.Select(s => inProcess(s, device)).Where(r => !r.Passes(tolerance)).ToList();
                if (failed.Count > 0)
                    throw Refusal($"{device.type} float32", failed, tolerance);
                return new BackendVerdict($"{device.type}, float32 checked", false, shapes.Count, clock.Elapsed.TotalSeconds);
            }

            var identity = MachineIdentity.Current(__version__);
            var cached = LoadCache(identity);
            int probed = 0;
            if (oneDnnEnabled() is not false)
            {
                var unknown = shapes.Where(s => !cached.ContainsKey(Key(s, oneDnn: true))).ToList();
                var failed = new List<string>();
                if (unknown.Count > 0)
                {
                    probed += unknown.Count;
                    if (isolated(unknown) is { } outcome)
                    {
                        foreach (var r in outcome.Results)
                            if (!(cached[Key(r.Shape, true)] = r.Passes(tolerance)))
                                failed.Add(r.ToString());
                        if (outcome.Crashed && outcome.Results.Count < unknown.Count)
                        {
                            var crashedOn = unknown[outcome.Results.Count];
                            cached[Key(crashedOn, true)] = false;
                            failed.Add($"{crashedOn}: the process running it died ({outcome.Detail})");
                        }
                        else if (outcome.Crashed)
                            failed.Add($"the process that checked oneDNN ended abnormally ({outcome.Detail})");
                    }
                    else
                        failed.Add("the oneDNN check could not run in a separate process here, and oneDNN is not trusted unchecked");
                }
                failed.AddRange(shapes.Except(unknown).Where(s => !cached[Key(s, true)]).Select(s => $"{s}: failed before on this machine"));
                if (failed.Count == 0)
                {
                    SaveCache(identity, cached);
                    return Log(info, new BackendVerdict("CPU, oneDNN, float32 checked against float64", true, probed, clock.Elapsed.TotalSeconds), shapes.Count);
                }
                if (!setOneDnn(false))
                    throw Refusal("CPU float32 with oneDNN (its switch is not available here)", failed, tolerance);
                warning($"EDP: libtorch's oneDNN float32 convolutions are wrong on this machine ({identity.Cpu}, libtorch {identity.LibTorch}, oneDNN ISA cap {identity.OneDnnIsaCap}): "
                    + string.Join("; ", failed.Take(4)) + (failed.Count > 4 ? $"; and {failed.Count - 4} more" : "")
                    + ". oneDNN is now off for this process; the fit trains on libtorch's own convolutions, checked below.");
            }

            var fallbackUnknown = shapes.Where(s => !cached.ContainsKey(Key(s, oneDnn: false))).ToList();
            probed += fallbackUnknown.Count;
            foreach (var s in fallbackUnknown)
                cached[Key(s, false)] = inProcess(s, device).Passes(tolerance);
            SaveCache(identity, cached);
            var wrong = shapes.Where(s => !cached[Key(s, false)]).ToList();
            if (wrong.Count > 0)
                throw Refusal("CPU float32 without oneDNN", wrong.Select(s => inProcess(s, device)).ToList(), tolerance);
            return Log(info, new BackendVerdict("CPU, oneDNN off (libtorch's own convolutions), float32 checked against float64", false, probed, clock.Elapsed.TotalSeconds), shapes.Count);
        }
    }

    private static BackendVerdict Log(Action<string> info, BackendVerdict verdict, int shapes)
    {
        info($"EDP: backend: {verdict.Description}; {shapes} conv/linear shapes, {verdict.ShapesChecked} checked now ({verdict.Seconds:F1} s), the rest known from earlier checks on this machine.");
        return verdict;
    }

    private static Exception Refusal(string backend, IEnumerable<object> failures, double tolerance)
        => new InvalidOperationException(
            $"libtorch computes some of this network's layers wrongly on this machine ({MachineIdentity.CpuDescription}), {backend}: expected float32 results within {tolerance:G1} (relative) of float64, found "
            + string.Join("; ", failures.Take(6)) + ". Training on it would give a wrong model. Try another libtorch version, or another machine.");

    private string Key(ProbeShape shape, bool oneDnn) => $"{(oneDnn ? "onednn" : "native")} {JsonSerializer.Serialize(shape)}";

    private Dictionary<string, bool> LoadCache(MachineIdentity identity)
    {
        var verdicts = new Dictionary<string, bool>(processVerdicts.Where(e => e.Key.StartsWith(identity.HashKey(), StringComparison.Ordinal))
            .Select(e => KeyValuePair.Create(e.Key[(identity.HashKey().Length + 1)..], e.Value)));
        if (UserCache.Read(cacheFolder, identity.HashKey() + ".json") is { } text)
        {
            try
            {
                if (JsonSerializer.Deserialize<CacheFile>(text, Json) is { Identity: var stored, Verdicts: { } saved } && stored == identity)
                    foreach (var (k, v) in saved)
                        verdicts.TryAdd(k, v);
            }
            catch (JsonException) { } // a damaged cache is measured again
        }
        return verdicts;
    }

    private void SaveCache(MachineIdentity identity, Dictionary<string, bool> verdicts)
    {
        foreach (var (k, v) in verdicts)
            processVerdicts[$"{identity.HashKey()} {k}"] = v;
        UserCache.Write(cacheFolder, identity.HashKey() + ".json", JsonSerializer.Serialize(new CacheFile(identity, verdicts), Json));
    }

    private sealed record CacheFile(MachineIdentity Identity, Dictionary<string, bool> Verdicts);
}
