namespace Microsoft.ML.Edp.Cost.Latency;

/// <summary>Whether a fit times its model against the plain network's (<paramref name="Measure"/>), the batch size the
/// model will be scored at, and a latency table measured on the deployment machine (null: this machine's).</summary>
internal sealed record LatencySettings(bool Measure, int ScoringBatch, string? TablePath)
{
    /// <summary>The batch sizes timed and predicted: the scoring batch, and 1 and 64 beside it.</summary>
    public int[] Batches => new[] { ScoringBatch, 1, 64 }.Distinct().Order().ToArray();
}
