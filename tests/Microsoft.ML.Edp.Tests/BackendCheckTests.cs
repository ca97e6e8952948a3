using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Network;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The backend self-check: it passes a correct backend, finds a wrong or crashing one (injected, since this machine's
/// oneDNN may well be right), takes the fallback and logs it, refuses a backend that stays wrong, and caches verdicts.</summary>
public sealed class BackendCheckTests : IDisposable
{
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("edp-backend-cache-");
    private readonly List<string> _info = [], _warnings = [];
    private readonly List<bool> _switched = [];

    public void Dispose() => _cache.Delete(recursive: true);

    private static IReadOnlyList<ProbeShape> Shapes => ProbeShape.Of(Architectures.Vgg([8, 8, 16], TestData.Settings(new EdpCompressOptions { Compress = false }).Network, 10), [16, 5]);

    private BackendCheck Check(Func<IReadOnlyList<ProbeShape>, IsolatedProbe.Outcome?> isolated, Func<ProbeShape, Device, ProbeResult>? inProcess = null,
        Dictionary<string, bool>? process = null)
        => new(isolated, inProcess ?? NumericProbe.Run, () => true, on => { _switched.Add(on); return true; }, _cache.FullName, process ?? []);

    private BackendVerdict Ensure(BackendCheck check) => check.Ensure(Shapes, CPU, _info.Add, _warnings.Add);

    [Fact]
    public void ShapesAreTheNetworksDistinctCallsAtEachBatchSize()
    {
        var shapes = Shapes;
        Assert.Equal(2 * 4, shapes.Count); // 3 convs and the classifier, at batch 16 and 5
        Assert.Contains(new ProbeShape(false, 5, 8, 16, 14, 14, 3, 1, 1, HasBias: false), shapes);
        Assert.Contains(shapes, s => s.IsLinear && s.Batch == 16);
    }

    [Fact]
    public void ACorrectBackendPassesAndItsVerdictIsCachedPerProcessAndPerMachine()
    {
        // The real child-process probe: on a machine whose oneDNN is wrong, the fallback is taken and passes instead.
        int childRuns = 0;
        var process = new Dictionary<string, bool>();
        var check = Check(s => { childRuns++; return IsolatedProbe.Run(s, 1, TorchRuntime.ChildEnvironment); }, process: process);
        var first = Ensure(check);
        Assert.Equal(Shapes.Count, first.ShapesChecked);
        Assert.Equal(first.OneDnn ? 1 : 2, childRuns + (first.OneDnn ? 0 : 1));
        Assert.Equal(0, Ensure(check).ShapesChecked);
        Assert.Equal(0, Ensure(Check(_ => throw new InvalidOperationException("the disk cache should answer"))).ShapesChecked);
        Assert.Single(_cache.GetFiles("*.json"));
    }

    [Fact]
    public void AWrongBackendIsFoundAndTheCheckedFallbackIsTakenAndLogged()
    {
        var verdict = Ensure(Check(shapes => new IsolatedProbe.Outcome(
            shapes.Select((s, i) => i == 1 ? new ProbeResult(s, 0.4, 1e-7, double.NaN, 1e-6) : new ProbeResult(s, 1e-7, 1e-7, 1e-7, 1e-7)).ToList(), false, "exit code 0")));

        Assert.False(verdict.OneDnn);
        Assert.Equal([false], _switched);
        var warning = Assert.Single(_warnings);
        Assert.Contains(Shapes[1].ToString(), warning);
        Assert.Contains("oneDNN is now off", warning);
        Assert.Contains(_info, m => m.Contains("oneDNN off"));
    }

    [Fact]
    public void AProbeThatDiesCountsAsAWrongBackend()
    {
        var verdict = Ensure(Check(shapes => new IsolatedProbe.Outcome([new ProbeResult(shapes[0], 1e-7, 1e-7, 1e-7, 1e-7)], true, "exit code 136")));

        Assert.False(verdict.OneDnn);
        Assert.Contains($"{Shapes[1]}: the process running it died (exit code 136)", Assert.Single(_warnings));
    }

    [Fact]
    public void ABackendThatStaysWrongIsRefusedWithTheShapesNamed()
    {
        var wrong = Check(s => new IsolatedProbe.Outcome(s.Select(x => new ProbeResult(x, 20, 20, 20, 20)).ToList(), false, "exit code 0"),
            (s, _) => new ProbeResult(s, double.NaN, 0, 0, 0));

        var e = Assert.Throws<InvalidOperationException>(() => Ensure(wrong));
        Assert.Contains("CPU float32 without oneDNN", e.Message);
        Assert.Contains(Shapes[0].ToString(), e.Message);
        Assert.Contains("expected float32 results within", e.Message);
    }

    [Fact]
    public void WhereNoChildProcessCanRunOneDnnIsNotTrustedUnchecked()
    {
        var verdict = Ensure(Check(_ => null));

        Assert.False(verdict.OneDnn);
        Assert.Contains("could not run in a separate process", Assert.Single(_warnings));
    }

    [Fact]
    public void TheChildProcessReportsACallThatFailsAsACrash()
    {
        var bad = new ProbeShape(false, 2, 3, 4, 2, 2, Kernel: 5); // a 5x5 kernel on a 2x2 map: libtorch throws
        var outcome = IsolatedProbe.Run([bad, Shapes[0]], 1, TorchRuntime.ChildEnvironment);

        Assert.NotNull(outcome);
        Assert.True(outcome.Crashed);
        Assert.Empty(outcome.Results);
        Assert.Contains("exit code 3", outcome.Detail);
    }

    /// <remarks>The path is the one the real check chose for this process: on an AMD EPYC (family 26, model 2) libtorch's
    /// oneDNN computed this very call 43% wrong, the check turned oneDNN off, and libtorch's own conv got it right.</remarks>
    [Fact]
    public void TheNumericProbeAgreesWithFloat64OnThePathTheCheckChose()
    {
        var shape = new ProbeShape(false, 8, 11, 22, 14, 14, 3, 1, 1);
        BackendCheck.ForThisProcess(get_num_threads()).Ensure([shape], CPU, _info.Add, _warnings.Add);
        var result = NumericProbe.Run(shape, CPU);
        Assert.True(result.Passes(NumericProbe.Tolerance(CPU)), result.ToString());
        Assert.False(result with { InputGradient = double.NaN } is var nan && nan.Passes(1));
    }
}
