using Microsoft.ML.Edp.Training;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The penalty schedule in optimizer steps: the selection floor moves the freeze later on short runs, the
/// trainer freezes at that step, and a run too short for its budget is warned before it trains.</summary>
public class ScheduleStepsTests(ITestOutputHelper output)
{
    private static ScheduleSettings Schedule(double ramp, double hold, int minSelection, int minRecovery)
        => new(0.05, EdpLearningRateSchedule.Cosine, ramp, hold, minSelection, minRecovery);

    [Theory]
    // Long enough: the fractions stand.
    [InlineData(2345, 0.3, 0.4, 250, 200, 704, 938)]
    // Short: the freeze moves to step 250, the ramp with it in proportion.
    [InlineData(471, 0.3, 0.4, 250, 200, 187, 250)]
    // Just long enough for both floors.
    [InlineData(450, 0.3, 0.4, 250, 200, 187, 250)]
    // Too short for both floors: the freeze splits the run as the floors split their sum (250 of 450).
    [InlineData(449, 0.3, 0.4, 250, 200, 186, 249)]
    [InlineData(120, 0.3, 0.4, 400, 50, 79, 106)]
    // Too short, and the fractions already freeze later than that split: they stand.
    [InlineData(100, 0.3, 0.9, 250, 200, 30, 90)]
    // No selection floor, and a hold of 1 (never freeze), move nothing.
    [InlineData(471, 0.3, 0.4, 0, 200, 141, 188)]
    [InlineData(471, 0.3, 1.0, 250, 200, 141, 471)]
    public void AFreezeBeforeTheSelectionFloorMovesLater(long total, double ramp, double hold, int minSelection, int minRecovery, long expectedRamp, long expectedHold)
    {
        var steps = Schedule(ramp, hold, minSelection, minRecovery).InSteps(total);
        Assert.Equal((total, expectedRamp, expectedHold), (steps.Total, steps.Ramp, steps.Hold));
        Assert.Equal(0, steps.RampAt(0), 1e-9);
        Assert.Equal(1, steps.RampAt(steps.Ramp), 1e-9);
    }

    [Fact]
    public void TheWarmUpRaisesTheLearningRateLinearlyToTheSchedulesValueAndLeavesTheRestAlone()
    {
        var plain = Schedule(0.3, 0.4, 0, 0);
        var warm = plain with { WarmupSteps = 10 };
        Assert.Equal(plain.LearningRateAt(0, 100) / 10, warm.LearningRateAt(0, 100), 1e-12);
        Assert.Equal(plain.LearningRateAt(4, 100) * 5 / 10, warm.LearningRateAt(4, 100), 1e-12);
        Assert.Equal(plain.LearningRateAt(9, 100), warm.LearningRateAt(9, 100), 1e-12);
        for (long step = 10; step < 100; step += 7)
            Assert.Equal(plain.LearningRateAt(step, 100), warm.LearningRateAt(step, 100), 1e-12);
        // Without a warm-up the first step runs at the peak rate, and the cosine schedule decays from it.
        Assert.Equal(0.05, plain.LearningRateAt(0, 100), 1e-12);
        Assert.True(plain.LearningRateAt(50, 100) < 0.05);
    }

    [Fact]
    public void ARecoveryRestartRunsTheScheduleAnewFromTheFreezeAndLeavesTheStepsBeforeItAlone()
    {
        // 100 steps, hold 0.4: the freeze at step 40 leaves 60 to recover.
        var plain = Schedule(0.3, 0.4, 0, 0);
        var restart = plain with { RecoveryRestart = 0.5 };
        for (long step = 0; step < 40; step += 3)
            Assert.Equal(plain.LearningRateAt(step, 100), restart.LearningRateAt(step, 100), 1e-12);
        Assert.Equal(0.025, restart.LearningRateAt(40, 100), 1e-12);
        Assert.Equal(plain.LearningRateAt(30, 60) / 2, restart.LearningRateAt(70, 100), 1e-12);
        Assert.True(restart.LearningRateAt(99, 100) < restart.LearningRateAt(70, 100));
        // A run that never freezes has nothing to restart.
        var never = Schedule(0.3, 1, 0, 0) with { RecoveryRestart = 0.5 };
        Assert.Equal(Schedule(0.3, 1, 0, 0).LearningRateAt(80, 100), never.LearningRateAt(80, 100), 1e-12);
    }

    [Fact]
    public void TheTrainerFreezesAtTheStepTheScheduleNames()
    {
        // 3,000 images in batches of 32: 94 steps an epoch, 188 in all, enough for floors of 120 and 50. The 0.4 hold
        // would freeze at step 75; the selection floor moves the freeze to 120 and the 0.3 ramp (56 steps) to 89.
        var messages = new List<string>();
        var ml = new MLContext(1);
        ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress")) lock (messages) messages.Add(e.Message); };
        var options = TinyRun.Options();
        options.Epochs = 2;
        options.BatchSize = 32;
        options.TargetMacsRatio = 0.5;
        options.PenaltyRampFraction = 0.3;
        options.PenaltyHoldFraction = 0.4;
        options.MinSelectionSteps = 120;
        options.MinRecoverySteps = 50;
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options)).Fit(ml.Data.LoadFromEnumerable(TestData.Train));
        foreach (var m in messages)
            output.WriteLine(m);
        Assert.Single(messages, m => m.Contains("sparsity pattern frozen at step 120 of 188 (penalty ramp 89 steps); 68 steps recover"));
        Assert.DoesNotContain(messages, m => m.Contains("too short"));
    }

    [Fact]
    public void ARunTooShortForItsBudgetIsWarnedBeforeTraining()
    {
        // 1,000 images in batches of 50 for 3 epochs: 60 steps, 24 of them after the 0.6 hold.
        var (warnings, order) = FitTiny(minSelectionSteps: 250, minRecoverySteps: 200);
        var warning = Assert.Single(warnings, w => w.Contains("too short for its budget"));
        output.WriteLine(warning);
        Assert.Contains("60 optimizer steps (3 epochs of 20 batches)", warning);
        Assert.Contains("takes 250 (MinSelectionSteps) and recovering from the cut 200 (MinRecoverySteps)", warning);
        Assert.Contains("freezes at step 36, leaving 24 to recover", warning);
        Assert.Contains("More epochs (at least 23 here)", warning);
        Assert.Contains("milder budget", warning);
        Assert.True(order.Warning >= 0 && order.Warning < order.Epoch, "the warning comes before the first epoch ends");

        var (enough, _) = FitTiny(minSelectionSteps: 10, minRecoverySteps: 20);
        Assert.DoesNotContain(enough, w => w.Contains("too short"));
    }

    private static (List<string> Warnings, (int Warning, int Epoch) Order) FitTiny(int minSelectionSteps, int minRecoverySteps)
    {
        var log = new List<(bool Warning, string Message)>();
        var ml = new MLContext(1);
        ml.Log += (_, e) =>
        {
            if (e.Source.Contains("EdpCompress") && e.Kind is Runtime.ChannelMessageKind.Warning or Runtime.ChannelMessageKind.Info)
                lock (log) log.Add((e.Kind == Runtime.ChannelMessageKind.Warning, e.Message));
        };
        var options = TinyRun.Options();
        options.TargetMacsRatio = 0.5;
        options.MinSelectionSteps = minSelectionSteps;
        options.MinRecoverySteps = minRecoverySteps;
        TinyRun.Fit(options, ml).Dispose();
        int warning = log.FindIndex(l => l.Warning && l.Message.Contains("too short")), epoch = log.FindIndex(l => l.Message.Contains("epoch 1/"));
        return (log.Where(l => l.Warning).Select(l => l.Message).ToList(), (warning, epoch));
    }
}
