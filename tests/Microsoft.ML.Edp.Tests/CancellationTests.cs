using Xunit;

namespace Microsoft.ML.Edp.Tests;

public class CancellationTests
{
    [Fact]
    public void CancellingMidEpochStopsWithinOneBatch()
    {
        var ml = new MLContext(1);
        using var cancel = new CancellationTokenSource();
        int batches = 0;
        var options = new EdpCompressOptions
        {
            Epochs = 3, BatchSize = 64, NumberOfThreads = 2, CancellationToken = cancel.Token,
            Progress = p => { if (!p.EpochCompleted && ++batches == 3) cancel.Cancel(); },
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options));
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Fit(ml.Data.LoadFromEnumerable(TestData.Train)));
        Assert.Equal(3, batches);
    }
}
