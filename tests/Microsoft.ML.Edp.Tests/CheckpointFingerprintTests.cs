using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>A checkpoint's fingerprint is written from the settings records themselves, so every setting training
/// reads invalidates a checkpoint when it changes, including one added later, and the machine's settings do not.</summary>
public sealed class CheckpointFingerprintTests
{
    private static string Fingerprint(EdpCompressOptions options)
    {
        var settings = TestData.Settings(options);
        return TrainingCheckpoints.Fingerprint(settings, Architectures.Build(settings.Network, 10), 1000);
    }

    [Fact]
    public void EveryFieldOfTheTrainingRecordsIsInTheFingerprintUnlessMarkedIgnored()
    {
        var settings = TestData.Settings(new EdpCompressOptions());
        string fingerprint = Fingerprint(new EdpCompressOptions());
        var records = new object[] { settings.Network, settings.Training, settings.Schedule, settings.Budget!, settings.Pruning };
        var fields = records.SelectMany(r => r.GetType().GetProperties().Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => $"{r.GetType().Name.Replace("Settings", "")}.{p.Name}=")).ToList();
        Assert.True(fields.Count >= 25, $"only {fields.Count} fields found");
        Assert.All(fields, field => Assert.Contains(field, fingerprint));
    }

    public static TheoryData<string, Action<EdpCompressOptions>> Changes => new()
    {
        { "Training.Epochs", o => o.Epochs = 6 },
        { "Training.PenaltyWeighting", o => o.PenaltyWeighting = EdpPenaltyWeighting.Cost },
        { "Schedule.LearningRate", o => o.LearningRate = 0.051 },
        { "Schedule.WarmupSteps", o => o.LearningRateWarmupSteps = 10 },
        { "Schedule.PenaltyHoldFraction", o => o.PenaltyHoldFraction = 0.5 },
        { "Budget.TargetParamsRatio", o => o.TargetParamsRatio = 0.7 },
        { "Budget.Penalty", o => o.BudgetPenalty = EdpBudgetPenalty.AllGroups },
        { "Pruning.Threshold", o => o.PruneThreshold = 0.02 },
        { "Pruning.ChannelGroup", o => o.ChannelGroup = EdpChannelGroup.BatchNorm },
        { "Pruning.Multiple", o => o.ChannelMultiple = 1 },
        { "Network.CoefficientInit", o => o.CoefficientInit = EdpCoefficientInit.RandomOrthogonal },
        { "Network.ExcludeFirstAndLast", o => o.ExcludeFirstAndLast = true },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void ChangingATrainingSettingChangesTheFingerprintThere(string field, Action<EdpCompressOptions> change)
    {
        var options = new EdpCompressOptions();
        change(options);
        string before = Fingerprint(new EdpCompressOptions()), after = Fingerprint(options);
        Assert.NotEqual(before, after);
        Assert.NotEqual(Line(before, field), Line(after, field));
    }

    [Fact]
    public void ThreadsDeviceCheckpointFolderAndRecalibrationMayChangeOnResume()
    {
        var options = new EdpCompressOptions
        {
            NumberOfThreads = 3, Device = EdpDevice.Cuda, FallbackToCpu = false, CheckpointDirectory = "elsewhere", ResumeFromCheckpoint = true,
            BatchNormRecalibrationBatches = 7,
        };
        Assert.Equal(Fingerprint(new EdpCompressOptions()), Fingerprint(options));
    }

    [Fact]
    public void TheLatencyTableABudgetIsMeasuredByIsInTheFingerprint()
    {
        var settings = TestData.Settings(new EdpCompressOptions { TargetMacsRatio = null, TargetLatencyRatio = 0.6 });
        var graph = Architectures.Build(settings.Network, 10);
        var table = LatencyTestTables.Blocked();
        var slower = table with { OverheadMilliseconds = table.OverheadMilliseconds.Select(t => t * 2).ToArray() };
        string measured = TrainingCheckpoints.Fingerprint(settings, graph, 1000, table);
        Assert.Equal(measured, TrainingCheckpoints.Fingerprint(settings, graph, 1000, LatencyTable.FromJson(table.ToJson(), "round trip")));
        Assert.NotEqual(Line(measured, "latencyTable"), Line(TrainingCheckpoints.Fingerprint(settings, graph, 1000, slower), "latencyTable"));
        Assert.Equal("none", Line(TrainingCheckpoints.Fingerprint(settings, graph, 1000), "latencyTable")["latencyTable=".Length..]);
    }

    private static string Line(string fingerprint, string field)
        => fingerprint.Split(", ").Single(f => f.StartsWith(field + "=", StringComparison.Ordinal));
}
