using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Where a fit's latency table comes from: a file the user measured on the deployment machine, else the
/// user's cache of tables measured on this one (<see cref="UserCache"/>, one per CPU, ONNX Runtime version and
/// network), else a new measurement, which is then cached.</summary>
internal static class LatencyTables
{
    public const string CacheTopic = "latency";

    public sealed record Loaded(LatencyTable Table, string Source);

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
            if (given.Cpu != hardware.Cpu || given.OnnxRuntimeVersion != hardware.OnnxRuntimeVersion)
                info($"EDP: the latency table '{path}' was measured on {given.Cpu} with ONNX Runtime {given.OnnxRuntimeVersion}; its predictions are for that machine, and the timing in the report is on this one ({hardware}).");
            return new Loaded(given, path);
        }

        string? folder = cacheFolder ?? UserCache.Folder(CacheTopic);
        string name = CacheFileName(hardware, graph, sites);
        if (UserCache.Read(folder, name) is { } json)
        {
            string source = Path.Combine(folder!, name);
            string why;
            try
            {
                var cached = LatencyTable.FromJson(json, $"'{source}'");
                var problems = batches.SelectMany(b => cached.Problems(sites, b)).Distinct().ToList();
                if (cached.Cpu != hardware.Cpu || cached.ConvBlock != hardware.ConvBlock || cached.OnnxRuntimeVersion != hardware.OnnxRuntimeVersion)
                    problems.Add($"it was measured on {cached.Cpu} (block {cached.ConvBlock}, ONNX Runtime {cached.OnnxRuntimeVersion}), this machine is {hardware}");
                if (problems.Count == 0)
                    return new Loaded(cached, source);
                why = string.Join("; ", problems);
            }
            catch (InvalidDataException e)
            {
                why = e.Message;
            }
            info($"EDP: measuring latency again: the cached table '{source}' does not fit: {why}.");
        }
        var table = LatencyProfiler.Measure(graph, batches, hardware, info);
        if (!UserCache.Write(folder, name, table.ToJson()))
            warning($"EDP: the latency table could not be cached (in '{folder ?? "no cache folder"}'); the next fit measures it again.");
        return new Loaded(table, "measured");
    }

    /// <summary>One file per CPU, ONNX Runtime version, conv block and network (its input and layer sites).</summary>
    private static string CacheFileName(Hardware hardware, NetworkGraph graph, IReadOnlyList<LayerSite> sites)
    {
        string key = $"{hardware}|{graph.InChannels}x{graph.Height}x{graph.Width}|{string.Join("|", sites.Select(s => s.Name + ":" + s.Signature + (s.IsBlock ? ":c" : "")))}";
        return $"table-{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..24].ToLowerInvariant()}.json";
    }
}
