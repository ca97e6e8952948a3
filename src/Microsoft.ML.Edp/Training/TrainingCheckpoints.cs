using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Network;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The trainer's side of checkpointing: where the file lives, whether to resume, and the fingerprint that
/// ties a checkpoint to the settings and data it was written for. Does nothing without a
/// <see cref="CheckpointSettings.Directory"/>.</summary>
internal sealed class TrainingCheckpoints
{
    /// <summary>The checkpoint's file name inside <see cref="CheckpointSettings.Directory"/>.</summary>
    public const string FileName = "edp-checkpoint.bin";

    private const string FrozenMaskPrefix = "prox.frozen.";
    private const string BudgetState = "budget.state";
    private const string TargetMaskPrefix = "prox.target.";
    private const string ImportancePrefix = "budget.importance.";
    private const string TeacherPrefix = "distillation.teacher.";
    private readonly string? _path;
    private readonly bool _resume;
    private readonly string _fingerprint;
    private readonly Action<string> _log;

    public TrainingCheckpoints(EdpSettings settings, NetworkGraph graph, long rows, Action<string> log, LatencyTable? budgetTable = null)
    {
        _log = log;
        _resume = settings.Checkpoints.Resume;
        _fingerprint = Fingerprint(settings, graph, rows, budgetTable);
        if (settings.Checkpoints.Directory is { } folder)
        {
            AtomicFile.EnsureWritableFolder(folder, nameof(EdpCompressOptions.CheckpointDirectory));
            _path = Path.Combine(Path.GetFullPath(folder), FileName);
        }
    }

    /// <summary>With <see cref="CheckpointSettings.Resume"/> and a checkpoint on disk, restores the
    /// network, the optimizer, libtorch's generator, the sparsity masks and the budget controller, and returns the
    /// progress to continue from; otherwise null (training starts from scratch). A checkpoint written while a
    /// distillation teacher was held gives its weights to <paramref name="restoreTeacher"/>.</summary>
    public CheckpointProgress? Resume(nn.Module net, OptimizerHelper optimizer, ProximalGroupLasso prox, BudgetController? budget,
        Action<IReadOnlyDictionary<string, Tensor>> restoreTeacher)
    {
        if (_path is null || !_resume)
            return null;
        if (!File.Exists(_path))
        {
            _log($"No checkpoint at '{_path}': training starts from epoch 1.");
            return null;
        }
        var found = Checkpoint.ReadProgress(_path);
        if (found.Fingerprint != _fingerprint)
            throw new InvalidOperationException(
                $"Checkpoint '{_path}' was written for other options or data: expected {_fingerprint}; found {found.Fingerprint}. Delete it or set ResumeFromCheckpoint = false to start over.");
        var (progress, extra) = Checkpoint.Load(_path, net, optimizer);
        try
        {
            var masks = WithPrefix(extra, FrozenMaskPrefix);
            if (masks.Count > 0)
                prox.Restore(masks);
            var targets = WithPrefix(extra, TargetMaskPrefix);
            if (targets.Count > 0)
                prox.RestoreTargets(targets);
            // The fingerprint includes the budget, so a budgeted run's checkpoint always carries the controller.
            if (budget is not null)
            {
                budget.Restore(extra[BudgetState].data<double>().ToArray());
                budget.Importance?.Restore(WithPrefix(extra, ImportancePrefix));
            }
            var teacher = WithPrefix(extra, TeacherPrefix);
            if (teacher.Count > 0)
                restoreTeacher(teacher);
        }
        finally
        {
            foreach (var t in extra.Values)
                t.Dispose();
        }
        _log($"Resumed from '{_path}' after epoch {progress.Epoch} (step {progress.Step}).");
        return progress;
    }

    /// <summary>Writes the state at the end of an epoch, replacing the previous checkpoint atomically, with the
    /// distillation <paramref name="teacher"/>'s weights while one is held.</summary>
    public void Save(nn.Module net, OptimizerHelper optimizer, ProximalGroupLasso prox, BudgetController? budget,
        IReadOnlyDictionary<string, Tensor>? teacher, int epoch, long step, int shuffleDraws, IReadOnlyList<EdpEpochReport> epochs)
    {
        if (_path is null)
            return;
        var extra = Prefixed(prox.FrozenMasks, FrozenMaskPrefix)
            .Concat(Prefixed(prox.TargetMasks, TargetMaskPrefix))
            .Concat(Prefixed(budget?.Importance?.State, ImportancePrefix))
            .Concat(Prefixed(teacher, TeacherPrefix))
            .ToDictionary(e => e.Key, e => e.Value);
        using var budgetState = budget is null ? null : tensor(budget.State);
        if (budgetState is not null)
            extra[BudgetState] = budgetState;
        Checkpoint.Save(_path, net, optimizer, new CheckpointProgress(_fingerprint, epoch, step, shuffleDraws, epochs.ToArray()), extra);
    }

    private static IEnumerable<KeyValuePair<string, Tensor>> Prefixed(IReadOnlyDictionary<string, Tensor>? tensors, string prefix)
        => (tensors ?? new Dictionary<string, Tensor>()).Select(e => KeyValuePair.Create(prefix + e.Key, e.Value));

    private static Dictionary<string, Tensor> WithPrefix(IReadOnlyDictionary<string, Tensor> tensors, string prefix)
        => tensors.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(e => e.Key[prefix.Length..], e => e.Value);

    private static string Describe(LayerNode layer)
        => layer is WeightLayer w ? $"{w.Name}:{w.Outputs}{(w.IsBlock ? "c" : w.Compressed ? "g" : "")}" : layer.Name;

    private static readonly JsonSerializerOptions FingerprintJson = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Everything that changes what training computes: the data's size, the graph and every field of the
    /// settings records training reads, written out field by field from the records themselves, so that a new setting
    /// joins the fingerprint without anyone listing it here. The device and checkpoint settings are left out on
    /// purpose: a run may resume on another machine, with results equal up to floating-point reduction order. A field
    /// that may change on resume says so with [JsonIgnore]. Under a latency budget the table the budget is measured by
    /// (<paramref name="budgetTable"/>) steers the selection, so its contents join the fingerprint as a digest: a table
    /// measured again, or one from another machine, does not resume a run begun with another.</summary>
    internal static string Fingerprint(EdpSettings settings, NetworkGraph graph, long rows, LatencyTable? budgetTable = null)
        => string.Join(", ", new[]
        {
            $"rows={rows}", $"input={graph.InChannels}x{graph.Height}x{graph.Width}", $"classes={graph.Classes}",
            $"layers={string.Join("/", graph.Layers.Select(Describe))}",
            $"latencyTable={(budgetTable is null ? "none" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(budgetTable.ToJson())))[..16])}",
        }.Concat(Fields(nameof(settings.Network), settings.Network))
            .Concat(Fields(nameof(settings.Training), settings.Training))
            .Concat(Fields(nameof(settings.Schedule), settings.Schedule))
            .Concat(Fields(nameof(settings.Budget), settings.Budget))
            .Concat(Fields(nameof(settings.Pruning), settings.Pruning)));

    private static IEnumerable<string> Fields(string record, object? settings)
        => settings is null ? [$"{record}=none"]
            : JsonSerializer.SerializeToElement(settings, settings.GetType(), FingerprintJson).EnumerateObject()
                .Select(field => $"{record}.{field.Name}={field.Value.GetRawText()}");
}
