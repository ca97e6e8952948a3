using System.Globalization;

namespace Microsoft.ML.Edp;

/// <summary>One conv or linear layer during training, as Pruning &amp; Merging would leave it at that point: the live
/// rank and width, and the live cost.</summary>
/// <param name="Name">The layer's name, as in <see cref="EdpLayerReport.Name"/>.</param>
/// <param name="KeptRank">Basis filters that would be kept, for a compressed-aware block; null for a plain layer.</param>
/// <param name="KeptOutputChannels">Output channels (or features) that would be kept.</param>
/// <param name="Macs">Multiply-accumulates per image the layer would have.</param>
/// <param name="Params">Parameters the layer would have.</param>
public sealed record EdpLayerProgress(string Name, int? KeptRank, int KeptOutputChannels, long Macs, long Params)
{
    /// <summary>The kept rank and width as <c>rank/width</c>, with <c>-</c> for the rank of a plain layer.</summary>
    public string RankWidth => string.Create(CultureInfo.InvariantCulture, $"{(KeptRank is int r ? r.ToString(CultureInfo.InvariantCulture) : "-")}/{KeptOutputChannels}");

    /// <summary><c>name:rank/width</c>.</summary>
    public override string ToString() => $"{Name}:{RankWidth}";
}
