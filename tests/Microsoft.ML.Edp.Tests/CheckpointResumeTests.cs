using Microsoft.ML.Edp.Training;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Stopping a fit (at an epoch's end or mid-epoch) and resuming from its checkpoint ends with the model of a
/// run that never stopped, on one thread.</summary>
public sealed class CheckpointResumeTests : IDisposable
{
    /// <summary>The uninterrupted run every resumed run is compared with.</summary>
    internal static readonly Lazy<(byte[] Onnx, EdpCompressionReport Report)> Reference = new(() =>
    {
        using var t = TinyRun.Fit(TinyRun.Options());
        return (t.GetOnnxModel(), t.Report);
    });

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edp-checkpoint-");
    private string CheckpointPath => Path.Combine(_dir.FullName, TrainingCheckpoints.FileName);

    public void Dispose() => _dir.Delete(recursive: true);

    private EdpCompressOptions WithCheckpoints(bool resume, CancellationToken token = default, Action<EdpProgress>? progress = null)
    {
        var o = TinyRun.Options();
        o.CheckpointDirectory = _dir.FullName;
        o.ResumeFromCheckpoint = resume;
        o.CancellationToken = token;
        o.Progress = progress;
        return o;
    }

    [Fact]
    public void CancelAfterEpochOneThenResumeGivesTheUninterruptedModel()
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(WithCheckpoints(false, cancel.Token, p => { if (p.EpochCompleted && p.Epoch == 1) cancel.Cancel(); })));
        var saved = Checkpoint.ReadProgress(CheckpointPath);
        Assert.Equal(1, saved.Epoch);
        Assert.Equal(TinyRun.BatchesPerEpoch, saved.Step);

        var resumedEpochs = new List<int>();
        using var resumed = TinyRun.Fit(WithCheckpoints(true, progress: p => { if (p.EpochCompleted) resumedEpochs.Add(p.Epoch); }));
        Assert.Equal([2, 3], resumedEpochs);
        AssertSameModel(resumed);
    }

    [Fact]
    public void CancelMidEpochStopsWithinOneBatchKeepsTheLastCheckpointAndResumes()
    {
        // Epoch 3 starts after the sparsity pattern froze (60% of 60 steps), so the checkpoint of epoch 2 must carry the masks.
        using var cancel = new CancellationTokenSource();
        int batchesInEpoch3 = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(WithCheckpoints(false, cancel.Token, p =>
        {
            if (p.Epoch == 3 && !p.EpochCompleted && ++batchesInEpoch3 == 4)
                cancel.Cancel();
        })));
        Assert.Equal(4, batchesInEpoch3);
        Assert.Equal([TrainingCheckpoints.FileName], _dir.GetFiles().Select(f => f.Name));
        var saved = Checkpoint.ReadProgress(CheckpointPath);
        Assert.Equal((2, 2L * TinyRun.BatchesPerEpoch, 2), (saved.Epoch, saved.Step, saved.ShuffleDraws));
        Assert.Equal([1, 2], saved.Epochs.Select(e => e.Epoch));

        using var resumed = TinyRun.Fit(WithCheckpoints(true));
        AssertSameModel(resumed);
        Assert.Equal(Reference.Value.Report.Epochs.Select(e => e.Loss), resumed.Report.Epochs.Select(e => e.Loss));
    }

    [Fact]
    public void ResumeWithoutACheckpointStartsFromEpochOneAndWritesOne()
    {
        using var fresh = TinyRun.Fit(WithCheckpoints(true));
        AssertSameModel(fresh);
        Assert.Equal(TinyRun.Epochs, Checkpoint.ReadProgress(CheckpointPath).Epoch);
    }

    [Fact]
    public void CheckpointOfOtherOptionsIsRefusedNamingTheFileAndBothSettings()
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(WithCheckpoints(false, cancel.Token, p => { if (p.EpochCompleted) cancel.Cancel(); })));
        var other = WithCheckpoints(true);
        other.Epochs = 4;
        var e = Assert.Throws<InvalidOperationException>(() => TinyRun.Fit(other));
        Assert.Contains($"'{CheckpointPath}'", e.Message);
        Assert.Contains("expected rows=1000", e.Message);
        Assert.Contains("Epochs=4", e.Message);
        Assert.Contains("Epochs=3", e.Message);

        // A setting of another record, which the fingerprint takes from the settings without a hand-written list.
        var rounding = WithCheckpoints(true);
        rounding.ChannelMultiple = 1;
        var refused = Assert.Throws<InvalidOperationException>(() => TinyRun.Fit(rounding));
        Assert.Contains("Pruning.Multiple=1", refused.Message);
        Assert.Contains("Pruning.Multiple=8", refused.Message);
    }

    [Fact]
    public void ABudgetedRunResumesWithItsControllerAndLandsOnTheSameModel()
    {
        EdpCompressOptions Budgeted(bool resume, CancellationToken token = default, Action<EdpProgress>? progress = null)
        {
            var o = WithCheckpoints(resume, token, progress);
            o.TargetMacsRatio = 0.5;
            return o;
        }
        var uninterruptedOptions = TinyRun.Options();
        uninterruptedOptions.TargetMacsRatio = 0.5;
        using var uninterrupted = TinyRun.Fit(uninterruptedOptions);

        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(Budgeted(false, cancel.Token, p => { if (p.EpochCompleted && p.Epoch == 1) cancel.Cancel(); })));
        using var resumed = TinyRun.Fit(Budgeted(true));
        Assert.Equal(uninterrupted.Report.MacsAfter, resumed.Report.MacsAfter);
        Assert.InRange(resumed.Report.MacsRatio, 0.44, 0.5); // rounding to multiples of 8 can land a little under
        Assert.True(TinyRun.MaxWeightDifference(uninterrupted.GetOnnxModel(), resumed.GetOnnxModel()) <= 1e-5);
    }

    [Fact]
    public void TruncatedCheckpointIsRefusedNamingTheFile()
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(WithCheckpoints(false, cancel.Token, p => { if (p.EpochCompleted) cancel.Cancel(); })));
        var bytes = File.ReadAllBytes(CheckpointPath);
        File.WriteAllBytes(CheckpointPath, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => TinyRun.Fit(WithCheckpoints(true)));
        Assert.Contains($"Checkpoint '{CheckpointPath}' cannot be read", e.Message);
    }

    private static void AssertSameModel(EdpCompressTransformer resumed)
    {
        var (onnx, report) = Reference.Value;
        Assert.Equal(report.Layers.Select(l => (l.KeptRank, l.KeptOutputChannels)), resumed.Report.Layers.Select(l => (l.KeptRank, l.KeptOutputChannels)));
        Assert.True(TinyRun.MaxWeightDifference(onnx, resumed.GetOnnxModel()) <= 1e-5);
    }
}
