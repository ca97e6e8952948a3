using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Distillation from the network before the cut: the loss mixes in the teacher's logits, the trainer takes the
/// teacher while the network is dense and releases it at the freeze, and releasing it frees every tensor it held.</summary>
public class DistillationTests(ITestOutputHelper output)
{
    [Fact]
    public void ATeacherEqualToTheStudentAddsNothingButTheWeightOnTheCrossEntropy()
    {
        using var scope = NewDisposeScope();
        var student = randn(8, 10, generator: new Generator(3));
        var labels = tensor(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 });
        double ce = nn.functional.cross_entropy(student, labels).item<float>();
        Assert.Equal(0, Distillation.Mixed(student, student.clone(), labels, 1, 4).item<float>(), 5);
        Assert.Equal(0.7 * ce, Distillation.Mixed(student, student.clone(), labels, 0.3, 4).item<float>(), 5);
    }

    [Fact]
    public void TheSoftTermPullsTheStudentTowardsTheTeacher()
    {
        // d/ds of T^2 KL(softmax(t/T) || softmax(s/T)), batch mean, is T (softmax(s/T) - softmax(t/T)) / N: the gradient
        // with weight 1 is that, and with weight 0 it is the cross-entropy's, which knows nothing of the teacher.
        using var scope = NewDisposeScope();
        const double T = 4;
        var student = randn(8, 10, generator: new Generator(3)).requires_grad_();
        var teacher = randn(8, 10, generator: new Generator(5));
        var labels = tensor(new long[] { 0, 1, 2, 3, 4, 5, 6, 7 });
        Distillation.Mixed(student, teacher, labels, 1, T).backward();
        var expected = T * (nn.functional.softmax(student.detach() / T, 1) - nn.functional.softmax(teacher / T, 1)) / 8;
        Assert.True(student.grad!.allclose(expected, rtol: 1e-4, atol: 1e-6));
        student.grad!.zero_();
        Distillation.Mixed(student, teacher, labels, 0, T).backward();
        Assert.False(student.grad!.allclose(expected, rtol: 1e-2, atol: 1e-4));
    }

    [Fact]
    public void ReleasingTheTeacherFreesEveryTensorItHeld()
    {
        using var student = new EdpNet(LatencyTestTables.VggSmall());
        using var distillation = new Distillation(new DistillationSettings(0.5, 4, ThroughRecovery: false));
        long studentOnly = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        distillation.Take(student, CPU, EdpCoefficientInit.Identity);
        Assert.True(distillation.HasTeacher);
        Assert.True(DisposeScopeManager.Statistics.ThreadTotalLiveCount > studentOnly + student.parameters().Count(),
            "the teacher holds a copy of every parameter");
        using (var scope = NewDisposeScope())
        {
            var x = randn(4, 1, 28, 28);
            distillation.Loss(student.forward(x), tensor(new long[] { 0, 1, 2, 3 }), x);
        }
        distillation.Release();
        Assert.False(distillation.HasTeacher);
        Assert.Equal(studentOnly, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void TheTrainerDistilsWhileTheNetworkIsCutAndReleasesTheTeacherAtTheFreeze()
    {
        var (distilled, log) = Fit(0.5);
        var (plain, plainLog) = Fit(0);
        using var _ = distilled;
        using var __ = plain;
        foreach (var m in log)
            output.WriteLine(m);
        var taken = Assert.Single(log, m => m.Contains("distillation: teacher taken at step"));
        long step = long.Parse(taken.Split("at step ")[1].Split(' ')[0]);
        Assert.InRange(step, 1, 35);
        Assert.Single(log, m => m.Contains("distillation: teacher released at step 36 (the freeze)"));
        Assert.DoesNotContain(plainLog, m => m.Contains("distillation"));
        // The first epoch's steps before the teacher are the same run; after it the loss is another.
        Assert.NotEqual(plain.Report.Epochs[0].Loss, distilled.Report.Epochs[0].Loss);
    }

    [Fact]
    public void ARunResumedWhileTheTeacherIsHeldLandsOnTheSameModel()
    {
        // Epoch 1 ends at step 20, after the teacher is taken and before the freeze: its checkpoint carries the teacher.
        var folder = Directory.CreateTempSubdirectory("edp-distil-");
        try
        {
            EdpCompressOptions Distilled(bool resume = false, CancellationToken token = default, Action<EdpProgress>? progress = null)
            {
                var o = Options(0.5);
                (o.CheckpointDirectory, o.ResumeFromCheckpoint, o.CancellationToken, o.Progress) = (folder.FullName, resume, token, progress);
                return o;
            }
            using var uninterrupted = TinyRun.Fit(Options(0.5));
            using var cancel = new CancellationTokenSource();
            Assert.ThrowsAny<OperationCanceledException>(() => TinyRun.Fit(Distilled(token: cancel.Token, progress: p => { if (p.EpochCompleted && p.Epoch == 1) cancel.Cancel(); })));
            using var resumed = TinyRun.Fit(Distilled(resume: true));
            Assert.True(TinyRun.MaxWeightDifference(uninterrupted.GetOnnxModel(), resumed.GetOnnxModel()) <= 1e-5);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>TinyRun under a budget with the fractions as they are: the ramp over 18 steps, the freeze at 36 of 60.</summary>
    private static EdpCompressOptions Options(double weight)
    {
        var options = TinyRun.Options();
        (options.TargetMacsRatio, options.MinSelectionSteps, options.PenaltyRampFraction, options.PenaltyHoldFraction) = (0.5, 0, 0.3, 0.6);
        options.DistillationWeight = weight;
        return options;
    }

    private static (EdpCompressTransformer Model, List<string> Log) Fit(double weight)
    {
        var log = new List<string>();
        var ml = new MLContext(1);
        ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress")) lock (log) log.Add(e.Message); };
        return (TinyRun.Fit(Options(weight), ml), log);
    }
}
