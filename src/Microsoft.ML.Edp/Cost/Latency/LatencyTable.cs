using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>One timed shape of a layer: from <c>InChannels</c> to <c>OutChannels</c>, as one layer or, with
/// <c>Rank</c>, as the basis and coefficient pair; <c>Milliseconds</c> per batch size of the table, with the fixed cost
/// of a run taken off.</summary>
internal sealed record LatencyPoint(int InChannels, int OutChannels, int? Rank, double[] Milliseconds);

/// <summary>The timed shapes of one layer at its site: widths along each axis with the other at its plain value, and
/// ranks at the plain widths; for a grouped conv whose channels follow its input's (<c>FollowsInput</c>: depthwise, or
/// groups that read and write as many channels), equal input and output widths, whole groups of the plain width each.</summary>
internal sealed record SiteLatency(string Name, string Signature, int InChannels, int OutChannels, LatencyPoint[] Points, bool FollowsInput = false);

/// <summary>Inference latency of every conv and linear layer of one network on one machine, measured in ONNX Runtime,
/// and the fixed cost of a run. It predicts the latency of any kept widths and ranks of that network.</summary>
/// <remarks>A layer is timed on a grid of widths along each axis (the other at its plain width) and of ranks, and
/// predicted between grid points by linear interpolation. A change of both widths is taken as the product of the two
/// one-axis changes, and a pair's rank curve is scaled the same way. The grid holds the CPU's block multiples, where
/// the kernels are fastest, so widths rounded to the block are read off measured points.</remarks>
internal sealed record LatencyTable(int Format, string Cpu, int ConvBlock, string OnnxRuntimeVersion,
    string MeasuredUtc, int[] Batches, double[] OverheadMilliseconds, SiteLatency[] Layers)
{
    /// <summary>2: grouped convs whose channels follow their input's are timed at their candidate group counts
    /// (<see cref="SiteLatency.FollowsInput"/>, which format 1 named <c>depthwise</c> and set for depthwise convs only).</summary>
    public const int CurrentFormat = 2;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Signatures hold '>' and '+'; the file is read by people too.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The fixed cost of one run at <paramref name="batch"/>: session call, input copy and head.</summary>
    public double Overhead(int batch) => OverheadMilliseconds[BatchIndex(batch)];

    /// <summary>Predicted milliseconds of layer <paramref name="name"/> from <paramref name="inChannels"/> to
    /// <paramref name="outChannels"/>, as one layer or, with <paramref name="rank"/>, as the pair.</summary>
    public double Layer(string name, int inChannels, int outChannels, int? rank, int batch)
    {
        var site = Site(name);
        int b = BatchIndex(batch);
        var plain = site.Points.Where(p => p.Rank is null).ToList();
        // A depthwise conv's, or another grouped conv's that loses whole groups, input and output widths are one width:
        // one axis, not the product of two.
        if (site.FollowsInput)
            return Interpolate(plain.Where(p => p.InChannels == p.OutChannels), p => p.OutChannels, outChannels, b);
        double full = plain.Single(p => p.InChannels == site.InChannels && p.OutChannels == site.OutChannels).Milliseconds[b];
        double Ratio(IEnumerable<LatencyPoint> axis, Func<LatencyPoint, int> width, int at, int plainWidth)
        {
            var points = axis.ToList();
            double whole = Interpolate(points, width, plainWidth, b);
            return whole > 0 ? Interpolate(points, width, at, b) / whole : 1;
        }
        double scale = Ratio(plain.Where(p => p.InChannels == site.InChannels), p => p.OutChannels, outChannels, site.OutChannels)
            * Ratio(plain.Where(p => p.OutChannels == site.OutChannels), p => p.InChannels, inChannels, site.InChannels);
        if (rank is not int r)
            return full * scale;
        var pairs = site.Points.Where(p => p.Rank is not null).ToList();
        if (pairs.Count == 0)
            throw new InvalidDataException($"The latency table has no timed basis and coefficient pairs for '{name}', which trains as a compressed-aware block.");
        return Interpolate(pairs, p => p.Rank!.Value, r, b) * scale;
    }

    /// <summary>The merge rule by measured cost: true when the table says the pair runs faster than the one layer it
    /// would merge into.</summary>
    public bool PairIsFaster(string name, int inChannels, int outChannels, int rank, int batch)
        => Layer(name, inChannels, outChannels, rank, batch) < Layer(name, inChannels, outChannels, null, batch);

    /// <summary>Problems that make the table unfit for <paramref name="sites"/> at <paramref name="batch"/>, each naming
    /// what was expected and what was found; empty when it fits.</summary>
    public IReadOnlyList<string> Problems(IReadOnlyList<LayerSite> sites, int batch)
    {
        var problems = new List<string>();
        if (Format != CurrentFormat)
            problems.Add($"format {Format}, expected {CurrentFormat}");
        if (Batches is null || OverheadMilliseconds is null || Layers is null)
            return [.. problems, "no batches, overhead or layers"];
        if (!Batches.Contains(batch))
            problems.Add($"no times at batch {batch} (it holds {string.Join(", ", Batches)})");
        if (OverheadMilliseconds.Length != Batches.Length || OverheadMilliseconds.Any(t => !(t >= 0)))
            problems.Add($"the overhead must hold one time >= 0 per batch size, found [{string.Join(", ", OverheadMilliseconds.Select(F))}]");
        foreach (var site in sites)
        {
            var entry = Layers.FirstOrDefault(l => l.Name == site.Name);
            if (entry is null)
            {
                problems.Add($"layer '{site.Name}' ({site.Signature}) is missing");
                continue;
            }
            if (entry.Signature != site.Signature)
                problems.Add($"layer '{site.Name}' was timed as {entry.Signature}, but this network has {site.Signature}");
            var points = entry.Points ?? [];
            if (!points.Any(p => p.Rank is null && p.InChannels == site.InChannels && p.OutChannels == site.OutChannels))
                problems.Add($"layer '{site.Name}' has no time at its plain shape {site.InChannels}->{site.OutChannels}");
            if (site.IsBlock && !points.Any(p => p.Rank is not null))
                problems.Add($"layer '{site.Name}' has no timed basis and coefficient pairs");
            foreach (var p in points)
                if (p.Milliseconds is null || p.Milliseconds.Length != Batches.Length || p.Milliseconds.Any(t => !(t >= 0) || double.IsInfinity(t)))
                    problems.Add($"layer '{site.Name}' at {p.InChannels}->{p.OutChannels}{(p.Rank is int r ? $" rank {r}" : "")} must hold one finite time >= 0 per batch size, found [{string.Join(", ", (p.Milliseconds ?? []).Select(F))}]");
        }
        return problems;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a table written by <see cref="ToJson"/>; <paramref name="source"/> names it in errors.</summary>
    public static LatencyTable FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<LatencyTable>(json, Json) ?? throw new InvalidDataException($"The latency table {source} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The latency table {source} is not a table written by 'edp profile': {e.Message}", e);
        }
    }

    private SiteLatency Site(string name)
        => Layers.FirstOrDefault(l => l.Name == name) ?? throw new InvalidDataException($"The latency table has no layer '{name}'.");

    private int BatchIndex(int batch)
        => Array.IndexOf(Batches, batch) is int i and >= 0 ? i
            : throw new InvalidDataException($"The latency table holds no times at batch {batch}; it holds batches {string.Join(", ", Batches)}.");

    /// <summary>Linear interpolation of the times along one axis, held flat beyond the grid's ends: a width below the
    /// smallest timed one is still padded up to a block, so it is no cheaper. The times at the block's multiples are
    /// read as a non-decreasing curve (<see cref="NonDecreasingAtBlocks"/>).</summary>
    private double Interpolate(IEnumerable<LatencyPoint> points, Func<LatencyPoint, int> axis, int x, int batch)
    {
        var sorted = NonDecreasingAtBlocks(points.GroupBy(axis).Select(g => (X: g.Key, Y: g.First().Milliseconds[batch])).OrderBy(p => p.X).ToList(), ConvBlock);
        if (sorted.Count == 0)
            throw new InvalidDataException("The latency table has no times along one of a layer's axes.");
        if (x <= sorted[0].X)
            return sorted[0].Y;
        for (int i = 1; i < sorted.Count; i++)
            if (x <= sorted[i].X)
            {
                var (x0, y0) = sorted[i - 1];
                var (x1, y1) = sorted[i];
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
            }
        return sorted[^1].Y;
    }

    private static string F(double t) => t.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary><paramref name="sorted"/> (by width) with the times at multiples of <paramref name="block"/> replaced by
    /// their closest non-decreasing fit (pooling adjacent violators into their mean). At those widths the kernels run the
    /// same blocked layout, so fewer channels or a lower rank never take longer; a table that times them longer (layers
    /// of microseconds, timed on a busy machine) timed noise, which would otherwise make narrow shapes look slow and
    /// steer a budget. Widths between multiples keep their times: there ONNX Runtime may fall back to slower kernels.</summary>
    internal static List<(int X, double Y)> NonDecreasingAtBlocks(List<(int X, double Y)> sorted, int block)
    {
        var at = Enumerable.Range(0, sorted.Count).Where(i => block > 0 && sorted[i].X % block == 0).ToList();
        var pools = new List<(double Sum, int Count)>();
        foreach (int i in at)
        {
            pools.Add((sorted[i].Y, 1));
            while (pools.Count > 1 && pools[^2].Sum / pools[^2].Count > pools[^1].Sum / pools[^1].Count)
            {
                var (sum, count) = pools[^1];
                pools.RemoveAt(pools.Count - 1);
                pools[^1] = (pools[^1].Sum + sum, pools[^1].Count + count);
            }
        }
        var result = sorted.ToList();
        int k = 0;
        foreach (var (sum, count) in pools)
            for (int j = 0; j < count; j++, k++)
                result[at[k]] = (sorted[at[k]].X, sum / count);
        return result;
    }
}
