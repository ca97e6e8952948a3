namespace Microsoft.ML.Edp.Data;

/// <summary>Streams mini-batches from an <see cref="IDataView"/> cursor. Training order comes from a bounded shuffle
/// buffer (plus the source's own shuffling where it supports it), so memory depends on the buffer size, never on the
/// data set size.</summary>
internal sealed class ImageBatchStream(IDataView data, EdpInputSchema schema, int batchSize, int shuffleBufferSize)
{
    /// <summary>Yields the batches of one pass. The same <see cref="ImageBatch"/> instance is refilled each time.</summary>
    /// <param name="random">Shuffles the order; null reads in cursor order (for evaluation).</param>
    /// <param name="cancellation">Checked before every row.</param>
    public IEnumerable<ImageBatch> Read(Random? random, CancellationToken cancellation = default)
    {
        var batch = new ImageBatch(batchSize, schema.PixelCount);
        var rows = random is null ? Sequential() : Shuffled(random);
        foreach (var (pixels, label) in rows)
        {
            cancellation.ThrowIfCancellationRequested();
            pixels.CopyTo(batch.Pixels.AsSpan(batch.Count * schema.PixelCount));
            batch.Labels[batch.Count++] = label;
            if (batch.Count == batchSize)
            {
                yield return batch;
                batch.Count = 0;
            }
        }
        if (batch.Count > 0)
            yield return batch;
    }

    private IEnumerable<(float[] Pixels, int Label)> Sequential()
    {
        var row = new float[schema.PixelCount];
        using var cursor = data.GetRowCursor([schema.Features, schema.Label]);
        var reader = new ImageRowReader(cursor, schema);
        while (cursor.MoveNext())
            yield return (row, reader.Read(row));
    }

    // A reservoir of rows: each incoming row replaces a random one that is emitted. The caller copies an emitted
    // row before asking for the next, so a slot can be refilled in place.
    private IEnumerable<(float[] Pixels, int Label)> Shuffled(Random random)
    {
        var pool = new List<(float[] Pixels, int Label)>();
        var incoming = new float[schema.PixelCount];
        var cursorRandom = data.CanShuffle ? new Random(random.Next()) : null;
        using var cursor = data.GetRowCursor([schema.Features, schema.Label], cursorRandom);
        var reader = new ImageRowReader(cursor, schema);
        while (cursor.MoveNext())
        {
            int label = reader.Read(incoming);
            if (pool.Count < shuffleBufferSize)
            {
                pool.Add((incoming, label));
                incoming = new float[schema.PixelCount];
                continue;
            }
            int j = random.Next(pool.Count);
            yield return pool[j];
            (incoming, pool[j]) = (pool[j].Pixels, (incoming, label));
        }
        for (int n = pool.Count; n > 0; n--)
        {
            int j = random.Next(n);
            yield return pool[j];
            pool[j] = pool[n - 1];
        }
    }
}
