using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Where a fit's latency table comes from: a file the user measured on the deployment machine, else the
/// cache of tables measured on this one (per CPU model, ONNX Runtime version and network), else a new measurement,
/// which is then cached.</summary>
internal static class LatencyTables
{
    public sealed record Loaded(LatencyTable Table, string Source);

    /// <summary>The cache folder: $XDG_CACHE_HOME/Microsoft.ML.Edp/latency where that is set, else the user's local
    /// application data folder.</summary>
    public static string CacheFolder()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        return Path.Combine(root, "Microsoft.ML.Edp", "latency");
    }

    /// <summary>The table for <paramref name="graph"/> timed at <paramref name="batches"/>. A table given by
    /// <paramref name="path"/> must fit the network, or this throws naming every problem; a cached one that does not
    /// fit (or was measured on another CPU or ONNX Runtime) is measured again, with a log line saying why.</summary>
    public static Loaded For(NetworkGraph graph, string? path, IReadOnlyList<int> batches, Hardware hardware, Action<string> info, Action<string> warning,
        string? cacheFolder = null)
    {
        var sites = LayerSite.Of(graph);
        if (path is not null)
        {
            if (!File.Exists(path))
                throw new FileNotFoundException($"The latency table '{path}' does not exist; write one with 'edp profile'.", path);
            var given = LatencyTable.FromJson(File.ReadAllText(path), $"'{path}'");
            var problems = batches.SelectMany(b => given.Problems(sites, b)).Distinct().ToList();
            if (problems.Count > 0)
                throw new InvalidDataException($"The latency table '{path}' does not fit this network: {string.Join("; ", problems)}. Write one for it with 'edp profile'.");
            if (given.CpuModel != hardware.CpuModel || given.OnnxRuntimeVersion != hardware.OnnxRuntimeVersion)
                info($"EDP: the latency table '{path}' was measured on {given.CpuModel} with ONNX Runtime {given.OnnxRuntimeVersion}; its predictions are for that machine, and the timing in the report is on this one ({hardware}).");
            return new Loaded(given, path);
        }

        string file = Path.Combine(cacheFolder ?? CacheFolder(), CacheFileName(hardware, graph, sites));
        if (File.Exists(file))
        {
            string? why;
            try
            {
                var cached = LatencyTable.FromJson(File.ReadAllText(file), $"'{file}'");
                var problems = batches.SelectMany(b => cached.Problems(sites, b)).Distinct().ToList();
                if (cached.CpuModel != hardware.CpuModel || cached.ConvBlock != hardware.ConvBlock || cached.OnnxRuntimeVersion != hardware.OnnxRuntimeVersion)
                    problems.Add($"it was measured on {cached.CpuModel} (block {cached.ConvBlock}, ONNX Runtime {cached.OnnxRuntimeVersion}), this machine is {hardware}");
                if (problems.Count == 0)
                    return new Loaded(cached, file);
                why = string.Join("; ", problems);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                why = e.Message;
            }
            info($"EDP: measuring latency again: the cached table '{file}' does not fit: {why}.");
        }
        var table = LatencyProfiler.Measure(graph, batches, hardware, info);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            AtomicFile.Write(file, Encoding.UTF8.GetBytes(table.ToJson()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warning($"EDP: the latency table could not be cached in '{file}' ({e.Message}); the next fit measures it again.");
        }
        return new Loaded(table, "measured");
    }

    /// <summary>The batch sizes a table holds: the one the user scores at, and 1 and 64 beside it.</summary>
    public static int[] Batches(int scoringBatch) => new[] { scoringBatch, 1, 64 }.Distinct().Order().ToArray();

    /// <summary>One file per CPU model, ONNX Runtime version and network (its input and layer sites).</summary>
    private static string CacheFileName(Hardware hardware, NetworkGraph graph, IReadOnlyList<LayerSite> sites)
    {
        string network = $"{graph.InChannels}x{graph.Height}x{graph.Width}|{string.Join("|", sites.Select(s => s.Name + ":" + s.Signature + (s.Compressed ? ":c" : "")))}";
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(network)))[..16].ToLowerInvariant();
        string cpu = new(hardware.CpuModel.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-').ToArray());
        return $"{cpu}-ort{hardware.OnnxRuntimeVersion}-{hash}.json";
    }
}
