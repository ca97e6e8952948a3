using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.ML.Data;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>BenchmarkDotNet for the hot paths, each against a baseline in the same run (the Ratio column):
/// the proximal step against the training step it follows, batch assembly against a bare cursor pass, and our ONNX
/// scorer against a bare ONNX Runtime call.</summary>
public static class MicroBenchmarks
{
    public static void Run(BenchmarkArguments args)
    {
        // In-process: no per-benchmark project build (none is possible offline), and libtorch loads once.
        var job = (args.Quick ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddColumnProvider(BenchmarkDotNet.Columns.DefaultColumnProviders.Instance)
            .AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default)
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Brief)
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithArtifactsPath(Path.Combine(args.ResultsDirectory, args.Quick ? "micro-quick" : "micro"));
        BenchmarkRunner.Run([typeof(ProximalStepBenchmark), typeof(BatchAssemblyBenchmark), typeof(OnnxScoringBenchmark)], config);
    }
}

/// <summary>The proximal group step on every CAB of VGG-S, against one SGD training step at batch 128.</summary>
public class ProximalStepBenchmark
{
    private EdpNet _net = null!;
    private ProximalGroupLasso _prox = null!;
    private TorchSharp.Modules.SGD _optimizer = null!;
    private Tensor _x = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.Configure(2, 1);
        _net = new EdpNet(FashionMnistNetwork.Build(new EdpCompressOptions()));
        _prox = ProximalGroupLasso.For(_net, EdpPenaltyWeighting.Uniform, EdpChannelGroup.CoefficientsAndBatchNorm);
        _optimizer = optim.SGD(_net.parameters(), 0.01, 0.9);
        _x = randn(128, 1, 28, 28);
        _y = randint(0, 10, [128]);
    }

    [Benchmark(Baseline = true)]
    public void TrainingStep()
    {
        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        nn.functional.cross_entropy(_net.forward(_x), _y).backward();
        _optimizer.step();
    }

    // A tiny shrink, so that groups shrink but never die and every call does the same work.
    [Benchmark]
    public void ProximalStep() => _prox.Step(1e-7, 1e-7);

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer.Dispose();
        _net.Dispose();
    }
}

/// <summary>Batches of 128 from an in-memory IDataView of 8,192 images: the training stream (with its shuffle buffer)
/// and the evaluation stream, against a bare cursor pass that reads the same columns.</summary>
public class BatchAssemblyBenchmark
{
    private const int Rows = 8192;
    private IDataView _data = null!;
    private EdpInputSchema _schema = null!;
    private ImageBatchStream _stream = null!;

    private sealed class Row
    {
        [VectorType(784)] public float[] Features { get; set; } = [];
        public uint Label { get; set; }
    }

    [GlobalSetup]
    public void Setup()
    {
        var ml = new MLContext(1);
        var random = new Random(1);
        var rows = Enumerable.Range(0, Rows).Select(i => new Row
        {
            Features = Enumerable.Range(0, 784).Select(_ => (float)random.NextDouble()).ToArray(),
            Label = (uint)(i % 10),
        }).ToList();
        _data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        _data = ml.Data.Cache(_data);
        _schema = EdpInputSchema.Validate(_data.Schema, new EdpCompressOptions());
        _stream = new ImageBatchStream(_data, _schema, 128, 4096);
        Cursor(); // fill the cache
    }

    [Benchmark(Baseline = true)]
    public float Cursor()
    {
        var features = default(VBuffer<float>);
        uint label = 0;
        float sum = 0;
        using var cursor = _data.GetRowCursor([_schema.Features, _schema.Label]);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(_schema.Features);
        var getLabel = cursor.GetGetter<uint>(_schema.Label);
        while (cursor.MoveNext())
        {
            getFeatures(ref features);
            getLabel(ref label);
            sum += features.GetValues()[0] + label;
        }
        return sum;
    }

    [Benchmark]
    public float ShuffledBatches() => Sum(_stream.Read(new Random(1)));

    [Benchmark]
    public float OrderedBatches() => Sum(_stream.Read(random: null));

    private static float Sum(IEnumerable<ImageBatch> batches)
    {
        float sum = 0;
        foreach (var b in batches)
            sum += b.Pixels[0] + b.Labels[0];
        return sum;
    }
}

/// <summary>Batch-64 scoring of the plain VGG-S export: our scorer against a bare ONNX Runtime session.</summary>
public class OnnxScoringBenchmark
{
    private const int Batch = 64;
    private InferenceSession _session = null!;
    private OnnxScorer _scorer = null!;
    private float[] _pixels = null!;

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.Configure(2, 1);
        using var net = new EdpNet(FashionMnistNetwork.Build(new EdpCompressOptions { Compress = false }));
        net.eval();
        var onnx = OnnxModelWriter.Write(PruneAndMerge.Apply(net, PruningPlanner.Plan(net, new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm))), new Dictionary<string, string>());
        _session = new InferenceSession(onnx);
        _scorer = new OnnxScorer(onnx);
        var random = new Random(1);
        _pixels = Enumerable.Range(0, Batch * 784).Select(_ => (float)random.NextDouble()).ToArray();
    }

    [Benchmark(Baseline = true)]
    public float BareOnnxRuntime()
    {
        var input = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(_pixels, [Batch, 1, 28, 28]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(OnnxNames.Input, input)], [OnnxNames.Logits]);
        return results.First().AsTensor<float>()[0, 0];
    }

    [Benchmark]
    public float Scorer() => _scorer.Logits(_pixels, Batch, 1, 28, 28)[0];

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _scorer.Dispose();
    }
}
