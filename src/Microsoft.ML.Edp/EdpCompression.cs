using System.Diagnostics;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.Edp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp;

/// <summary>The stages of one fit, in order: check the data, train (with the proximal group steps), Pruning &amp;
/// Merging, ONNX export, and validation of the export against TorchSharp. Knows nothing of ML.NET's pipelines beyond
/// reading an <see cref="IDataView"/>. The public options stop here: they are mapped once into
/// <see cref="EdpSettings"/>, which the stages take.</summary>
internal sealed class EdpCompression(EdpCompressOptions options, Action<string> info, Action<string> warning)
{
    private readonly EdpSettings _settings = EdpSettings.From(options);

    /// <summary>Largest |ONNX Runtime - TorchSharp| logit difference accepted for an exported model, per unit of its
    /// largest |logit| above 1: ONNX Runtime computes in float32, whose rounding grows with the values (a ResNet-50
    /// after one epoch from random weights differed by 4.9e-4).</summary>
    public const double ExportTolerance = 1e-4;

    public sealed record Result(byte[] Onnx, EdpCompressionReport Report);

    public Result Run(IDataView train, EdpInputSchema schema, EdpInputSchema? validationSchema, IReadOnlyList<string> classNames)
    {
        var total = Stopwatch.StartNew();
        var scan = DataScan.Run(train, schema, "training", options.CancellationToken);
        if (scan.ClassesPresent < 2)
            throw new InvalidOperationException(
                $"Label column '{schema.Label.Name}' holds {scan.ClassesPresent} distinct class in {scan.RowCount} rows: expected at least 2 classes to train a classifier.");
        if (options.BatchSize > scan.RowCount)
            throw new ArgumentOutOfRangeException(nameof(options.BatchSize),
                $"BatchSize is {options.BatchSize} but the training data has only {scan.RowCount} rows: expected a batch size no larger than the data.");
        long? validationRows = validationSchema is null ? null
            : DataScan.Run(options.ValidationSet!, validationSchema, "validation", options.CancellationToken).RowCount;

        var settings = _settings.WithImage(schema.Shape);
        TorchRuntime.Configure(_settings.Device.Threads, _settings.Training.Seed);
        var device = TorchRuntime.SelectDevice(_settings.Device.Device, _settings.Device.FallbackToCpu, warning);
        var network = settings.Network;
        var graph = settings.Graph(schema.ClassCount);
        var backend = BackendCheck.ForThisProcess(get_num_threads()).Ensure(
            ProbeShape.Of(graph, BatchSizes(scan.RowCount, validationRows)), device, info, warning);
        // Read (or measure) the latency table before training, so that a table that does not fit fails the fit at once.
        var latencyTable = _settings.Latency.Measure || _settings.Budget is { HasLatency: true }
            ? LatencyTables.For(graph, _settings.Latency.TablePath, _settings.Latency.Batches, Hardware.Current, info, warning) : null;
        WarnIfTooShort(scan.RowCount);
        // Under a latency budget the table's prediction at the scoring batch is the budget's cost and the merge rule's.
        var latencyCost = latencyTable is not null && _settings.Budget is { HasLatency: true } ? new LatencyCost(latencyTable.Table, _settings.Latency.ScoringBatch) : null;
        info($"EDP: {scan.RowCount} training rows, {schema.ClassCount} classes, {schema.Shape} images, {ArchitectureName()} ({(!network.Compress ? "plain layers" : network.Decompose ? "compressed-aware blocks" : "plain layers with channel groups")}), {get_num_threads()} threads on {device.type}, learning rate {settings.Schedule.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");

        using var net = new EdpNet(graph, network.CoefficientInit);
        settings = WithReachableMultiple(settings, net, latencyCost);
        net.to(device);
        var clock = Stopwatch.StartNew();
        var trainStream = new ImageBatchStream(train, schema, settings.Training.BatchSize, settings.Training.ShuffleBufferSize);
        var epochs = new EdpTrainer(settings, device, info, options.Progress, options.CancellationToken, latencyCost).Train(net, trainStream, scan.RowCount);
        double trainingSeconds = clock.Elapsed.TotalSeconds;
        net.eval();

        var validation = validationSchema is null ? null : new ImageBatchStream(options.ValidationSet!, validationSchema, _settings.Training.BatchSize, 0);
        double? accuracyBefore = validation is null ? null : EdpTrainer.Accuracy(x => net.forward(x), validation, graph, device);

        net.to(CPU);
        var plans = PruningPlanner.Plan(net, settings.Pruning);
        var exported = PruneAndMerge.Apply(net, plans);
        var bare = OnnxModelWriter.Write(exported, new Dictionary<string, string>());
        double maxDiff = CheckExport(bare, exported, trainStream);
        double? accuracyAfter = validation is null ? null : OnnxAccuracy(bare, validation, graph);
        var latency = _settings.Latency.Measure
            ? LatencyProof.Run(graph, plans, bare, latencyTable!, _settings.Latency.Batches, Hardware.Current, info, warning) : null;

        var report = new EdpCompressionReport
        {
            Architecture = ArchitectureName(),
            Compressed = network.Compress,
            ClassNames = classNames.ToArray(),
            TrainingRows = scan.RowCount,
            Layers = plans.Select(ToReport).ToArray(),
            Epochs = epochs.ToArray(),
            ValidationAccuracyBeforePruning = accuracyBefore,
            TargetMacsRatio = _settings.Budget?.TargetMacsRatio,
            TargetParamsRatio = _settings.Budget?.TargetParamsRatio,
            TargetLatencyRatio = _settings.Budget?.TargetLatencyRatio,
            TargetLatencyMilliseconds = _settings.Budget?.TargetLatencyMilliseconds,
            PredictedPlainLatencyMilliseconds = latencyCost?.Before(plans),
            PredictedLatencyMilliseconds = latencyCost?.After(plans),
            ValidationAccuracyAfterPruning = accuracyAfter,
            OnnxMaxAbsDifference = maxDiff,
            TrainingSeconds = trainingSeconds,
            TotalSeconds = total.Elapsed.TotalSeconds,
            OnnxSizeBytes = bare.LongLength,
            OnnxParameterCount = exported.ParameterCount,
            Threads = get_num_threads(),
            Cpu = MachineIdentity.CpuDescription,
            Backend = backend.Description,
            BackendCheckSeconds = backend.Seconds,
            ChannelMultiple = settings.Pruning.Multiple,
            Latency = latency,
        };
        info($"EDP: MACs {report.MacsBefore:N0} -> {report.MacsAfter:N0} ({report.MacsRatio:P1}), params {report.ParamsBefore:N0} -> {report.ParamsAfter:N0}, ONNX {report.OnnxSizeBytes:N0} bytes.");
        WarnOnMissedBudget(report);
        var onnx = OnnxModelWriter.Write(exported, new Dictionary<string, string> { [OnnxNames.ReportMetadataKey] = report.ToJson() });
        return new Result(onnx, report);
    }

    /// <summary>The settings to train with. Under a latency budget, <paramref name="latency"/> (the table's prediction)
    /// is the merge rule's cost. With <see cref="EdpCompressOptions.ChannelMultiple"/> left to the CPU's block, a
    /// budget that a small network cannot reach in multiples of the block is met with the largest halving of it that
    /// can, and a warning says so; an explicit multiple is kept, and the budget check names it.</summary>
    private EdpSettings WithReachableMultiple(EdpSettings settings, EdpNet net, LatencyCost? latency)
    {
        if (latency is not null)
            settings = settings with { Pruning = settings.Pruning with { MergeRule = latency } };
        if (options.ChannelMultiple is not null || settings.Budget is not { } budget)
            return settings;
        int multiple = BudgetController.ReachableMultiple(budget, settings.Pruning, net, latency);
        if (multiple == settings.Pruning.Multiple)
            return settings;
        warning($"EDP: this network cannot meet its budget with kept channels and ranks in multiples of {settings.Pruning.Multiple}, the CPU's conv block; " +
            $"they are rounded to multiples of {multiple} instead, which ONNX Runtime may run slower than their MACs suggest. Set {nameof(EdpCompressOptions.ChannelMultiple)} to choose, or ask for a milder budget.");
        return settings with { Pruning = settings.Pruning with { Multiple = multiple } };
    }

    /// <summary>The batch sizes libtorch will see: full batches, and the last partial batch of training and validation.</summary>
    private int[] BatchSizes(long trainingRows, long? validationRows)
        => new[] { _settings.Training.BatchSize, (int)(trainingRows % _settings.Training.BatchSize), (int)((validationRows ?? 0) % _settings.Training.BatchSize) }.Where(n => n > 0).ToArray();

    /// <summary>Budgets are met within this fraction of the plain network's cost.</summary>
    public const double BudgetTolerance = 0.03;

    /// <summary>The network's name in the log and the report: the built-in architecture, or the imported model.</summary>
    private string ArchitectureName()
        => _settings.Network.OnnxModelPath is { } path ? $"ONNX model '{Path.GetFileName(path)}'"
            : _settings.Network.OnnxModel is not null ? "ONNX model" : _settings.Network.Architecture.ToString();

    /// <summary>A budget needs steps to choose what to remove and steps to recover after the cut. A run too short for
    /// both floors is told so before it trains: its compressed network is likely to trail a narrower network trained
    /// from scratch for the same steps.</summary>
    private void WarnIfTooShort(long rows)
    {
        if (_settings.Budget is null)
            return;
        var training = _settings.Training;
        long perEpoch = (rows + training.BatchSize - 1) / training.BatchSize;
        var steps = _settings.Schedule.InSteps(perEpoch * training.Epochs);
        if (!steps.TooShort)
            return;
        long epochsNeeded = (steps.MinSelection + steps.MinRecovery + perEpoch - 1) / perEpoch;
        warning($"EDP: this run is too short for its budget to recover: {steps.Total} optimizer steps ({training.Epochs} epochs of {perEpoch} batches), " +
            $"where choosing what to remove takes {steps.MinSelection} ({nameof(options.MinSelectionSteps)}) and recovering from the cut {steps.MinRecovery} ({nameof(options.MinRecoverySteps)}); " +
            $"the pattern freezes at step {steps.Hold}, leaving {steps.Recovery} to recover. The compressed network may fall short of a narrower one trained from scratch. " +
            $"More epochs (at least {epochsNeeded} here) or more data would help, or a milder budget ({nameof(options.TargetMacsRatio)} or {nameof(options.TargetParamsRatio)} closer to 1), which leaves less to recover.");
    }

    private void WarnOnMissedBudget(EdpCompressionReport report)
    {
        var targets = new[]
        {
            ("MACs", report.TargetMacsRatio, report.MacsRatio), ("parameter", report.TargetParamsRatio, report.ParamsRatio),
            ("predicted latency", report.TargetLatencyRatio, report.PredictedLatencyRatio ?? 1),
            // A budget in milliseconds above the plain network's is met by the plain network.
            ("predicted latency", report.TargetLatencyMilliseconds is double ms && report.PredictedPlainLatencyMilliseconds is double plain ? Math.Min(1, ms / plain) : null,
                report.PredictedLatencyRatio ?? 1),
        };
        foreach (var (name, target, achieved) in targets)
            if (target is double t && Math.Abs(achieved - t) > BudgetTolerance)
                warning($"EDP: the {name} budget of {t:P1} was missed: {achieved:P1} achieved. " + (achieved > t
                    ? $"The other budget, {nameof(options.ChannelMultiple)} rounding or the layers that cannot shrink kept more."
                    : report.ChannelMultiple > 1
                        ? $"Kept channels and ranks move in steps of {nameof(options.ChannelMultiple)} = {report.ChannelMultiple}, so the largest network within the budget is this much smaller; {nameof(options.ChannelMultiple)} = 1 lands closer."
                        : $"The penalties pruned past the budget before the pattern froze; lower {nameof(options.RankPenalty)} and {nameof(options.ChannelPenalty)}, which a budget scales from."));
    }

    /// <summary>Every export is checked: ONNX Runtime must reproduce TorchSharp's logits for the same graph on real
    /// training images, to <see cref="ExportTolerance"/> relative to the largest logit, or the fit fails rather than
    /// ship a wrong model.</summary>
    private static double CheckExport(byte[] onnx, NetworkGraph graph, ImageBatchStream data)
    {
        var batch = data.Read(random: null).First();
        using var scorer = new OnnxScorer(onnx);
        var ort = scorer.Logits(batch.Pixels, batch.Count, graph.InChannels, graph.Height, graph.Width);
        using var scope = NewDisposeScope();
        var (x, _) = EdpTrainer.ToTensors(batch, graph.InChannels, graph.Height, graph.Width, CPU);
        var reference = ReferenceRunner.Logits(graph, x).data<float>().ToArray();
        double maxDiff = ort.Zip(reference, (a, b) => (double)Math.Abs(a - b)).Max();
        double largest = reference.Max(v => (double)Math.Abs(v)), tolerance = ExportTolerance * Math.Max(1, largest);
        if (!(maxDiff <= tolerance)) // NaN fails too
            throw new InvalidOperationException($"The exported ONNX model disagrees with TorchSharp: max |logit difference| {maxDiff:G3} on logits up to {largest:G3}, expected at most {tolerance:G3} ({ExportTolerance:G1} per unit of the largest logit above 1).");
        return maxDiff;
    }

    private static double OnnxAccuracy(byte[] onnx, ImageBatchStream data, NetworkGraph spec)
    {
        using var scorer = new OnnxScorer(onnx);
        long correct = 0, seen = 0;
        foreach (var batch in data.Read(random: null))
        {
            var logits = scorer.Logits(batch.Pixels, batch.Count, spec.InChannels, spec.Height, spec.Width);
            for (int i = 0; i < batch.Count; i++)
            {
                var row = logits.AsSpan(i * spec.Classes, spec.Classes);
                if (row.IndexOf(MaxOf(row)) == batch.Labels[i])
                    correct++;
            }
            seen += batch.Count;
        }
        return (double)correct / seen;
    }

    private static float MaxOf(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row)
            max = Math.Max(max, v);
        return max;
    }

    private static EdpLayerReport ToReport(LayerPlan p) => new()
    {
        Name = p.Name,
        Kind = p.IsConv ? "conv" : "linear",
        OriginalShape = p.OriginalShape,
        Compressed = p.KeptRank is not null,
        KeptRank = p.KeptRank?.Length,
        KeptOutputChannels = p.KeptOutputs.Length,
        KeptInputChannels = p.KeptInputs.Length,
        Merged = p.Merged,
        ParamsBefore = p.Before.Params,
        ParamsAfter = p.After.Params,
        MacsBefore = p.Before.Macs,
        MacsAfter = p.After.Macs,
    };
}
