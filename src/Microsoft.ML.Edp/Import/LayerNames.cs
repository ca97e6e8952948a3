using System.Text;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>Turns ONNX node and value names into unique layer names of letters, digits and underscores, the only
/// characters the network's logs, checkpoints and exported graph accept.</summary>
internal sealed class LayerNames
{
    private const int MaxLength = 64;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal) { NetworkGraph.InputName };

    /// <summary>Marks an existing name as taken.</summary>
    public void Reserve(string name) => _used.Add(name);

    /// <summary>A sanitised, unused name for <paramref name="raw"/>: "/features/0/Conv" becomes "features_0_Conv", and
    /// a second "conv" becomes "conv_2".</summary>
    public string Unique(string raw)
    {
        var sb = new StringBuilder(Math.Min(raw.Length, MaxLength));
        foreach (char ch in raw)
        {
            if (sb.Length == MaxLength)
                break;
            bool ok = ch is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9');
            if (ok)
                sb.Append(ch);
            else if (sb.Length > 0 && sb[^1] != '_')
                sb.Append('_');
        }
        var name = sb.ToString().TrimEnd('_');
        if (name.Length == 0)
            name = "layer";
        if (char.IsDigit(name[0]))
            name = "n" + name;
        var candidate = name;
        for (int k = 2; !_used.Add(candidate); k++)
            candidate = $"{name}_{k}";
        return candidate;
    }
}
