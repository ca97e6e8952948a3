using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Groups;

/// <summary>Which groups Pruning &amp; Merging keeps: those whose norm exceeds <paramref name="Threshold"/> times the
/// largest of their kind in the layer, with channel-group norms measured as <paramref name="ChannelGroup"/> says and
/// kept counts rounded up to a multiple of <paramref name="Multiple"/>.</summary>
/// <param name="Threshold">A fraction of the largest norm in [0, 1); 0 keeps every non-zero group.</param>
/// <param name="ChannelGroup">What a channel group's norm is measured on.</param>
/// <param name="Multiple">Kept channels and ranks move in steps of this.</param>
/// <param name="ResidualStreams">Whether a residual stream's channels may be removed (<see cref="NetworkGraph.PruneResidualStreams"/>).</param>
internal sealed record PruningSettings(double Threshold, EdpChannelGroup ChannelGroup, int Multiple = 1, bool ResidualStreams = true)
{
    /// <summary>The cost the merge rule compares a kept pair and its merged layer by: MACs, or under a latency budget
    /// the latency table's. Left out of a checkpoint's fingerprint: it follows from the budget, which is in it.</summary>
    [JsonIgnore]
    public CostModel MergeRule { get; init; } = CostModel.Macs;
}
