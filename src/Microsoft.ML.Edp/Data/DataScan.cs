namespace Microsoft.ML.Edp.Data;

/// <summary>What one checking pass over the data found: the row count and how many rows each class has.</summary>
internal sealed record DataScan(long RowCount, long[] ClassCounts)
{
    public int ClassesPresent => ClassCounts.Count(c => c > 0);

    /// <summary>Reads every row once, so that bad rows fail before any training starts; holds one row at a time.</summary>
    public static DataScan Run(IDataView data, EdpInputSchema schema, string role, CancellationToken cancellation)
    {
        var counts = new long[schema.ClassCount];
        var pixels = new float[schema.PixelCount];
        long rows = 0;
        using (var cursor = data.GetRowCursor([schema.Features, schema.Label]))
        {
            var reader = new ImageRowReader(cursor, schema);
            while (cursor.MoveNext())
            {
                if ((rows & 1023) == 0)
                    cancellation.ThrowIfCancellationRequested();
                counts[reader.Read(pixels)]++;
                rows++;
            }
        }
        if (rows == 0)
            throw new InvalidOperationException($"The {role} data is empty: expected at least one row in columns '{schema.Features.Name}' and '{schema.Label.Name}', found 0 rows.");
        return new DataScan(rows, counts);
    }
}
