using System.Diagnostics;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Network;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The single EDP training stage: SGD on the cross-entropy, then the proximal group step on every CAB after
/// each optimizer step, with the penalties ramped in over the first part of training. <c>progress</c> hears after
/// every batch and once at the end of each epoch; <c>cancellation</c> is checked before every row read; <c>latency</c>
/// is the latency table's prediction a latency budget is measured by.</summary>
internal sealed class EdpTrainer(EdpSettings settings, Device device, Action<string> log,
    Action<EdpProgress>? progress = null, CancellationToken cancellation = default, LatencyCost? latency = null)
{
    private readonly TrainingSettings _training = settings.Training;
    private readonly ScheduleSettings _schedule = settings.Schedule;

    public IReadOnlyList<EdpEpochReport> Train(EdpNet net, ImageBatchStream stream, long rows)
    {
        var coefficients = net.CoefficientParameters().ToHashSet();
        var others = net.parameters().Where(p => !coefficients.Contains(p)).ToList();
        var groups = new List<SGD.ParamGroup> { new(others, new SGD.Options { weight_decay = _training.WeightDecay, momentum = _training.Momentum }) };
        if (coefficients.Count > 0)
            groups.Add(new(coefficients, new SGD.Options { weight_decay = _training.CoefficientWeightDecay, momentum = _training.Momentum }));
        using var optimizer = optim.SGD(groups, _schedule.LearningRate, _training.Momentum);
        var prox = ProximalGroupLasso.For(net, _training.PenaltyWeighting, settings.Pruning.ChannelGroup);

        long stepsPerEpoch = (rows + _training.BatchSize - 1) / _training.BatchSize;
        long totalSteps = stepsPerEpoch * _training.Epochs, step = 0;
        var penalties = _schedule.InSteps(totalSteps);
        var budget = BudgetController.Create(settings.Budget, settings.Pruning, net, prox, stepsPerEpoch, latency);
        var shuffleSeeds = new SeedSequence(_training.Seed);
        var epochs = new List<EdpEpochReport>();
        var checkpoints = new TrainingCheckpoints(settings, net.Graph, rows, log, latency?.Table);
        using var distillation = new Distillation(_training.Distillation);
        int firstEpoch = 1;
        if (checkpoints.Resume(net, optimizer, prox, budget, teacher => distillation.Restore(net, teacher, device, settings.Network.CoefficientInit)) is { } resumed)
        {
            (firstEpoch, step) = (resumed.Epoch + 1, resumed.Step);
            shuffleSeeds.SkipTo(resumed.ShuffleDraws);
            epochs.AddRange(resumed.Epochs);
        }
        var (c, h, w) = (net.Graph.InChannels, net.Graph.Height, net.Graph.Width);
        net.train();
        for (int epoch = firstEpoch; epoch <= _training.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            int batchIndex = 0;
            foreach (var batch in stream.Read(new Random(shuffleSeeds.Next()), cancellation))
            {
                long at = step++;
                if (!prox.IsFrozen && penalties.FrozenAt(at))
                    Freeze(net, prox, budget, at, penalties);
                // Outside the step's dispose scope: the teacher outlives the step, and its release is at once.
                if (distillation.EndsAt(at, penalties))
                    ReleaseTeacher(distillation, at, "the freeze");
                if (distillation.TakesAt(at, penalties, prox.Groups.Count > 0))
                {
                    distillation.Take(net, device, settings.Network.CoefficientInit);
                    log($"distillation: teacher taken at step {at} of {penalties.Total} (penalty ramp {penalties.RampAt(at):0.###}), " +
                        $"{(_training.Distillation.ThroughRecovery ? "kept to the end of training" : "released at the freeze")}.");
                }
                double lr = _schedule.LearningRateAt(at, totalSteps);
                using (var scope = NewDisposeScope())
                {
                    var (x, y) = ToTensors(batch, c, h, w);
                    var logits = net.forward(x);
                    var loss = distillation.Loss(logits, y, x);
                    optimizer.zero_grad();
                    loss.backward();
                    if (!prox.IsFrozen)
                        budget?.Observe();
                    foreach (var g in optimizer.ParamGroups)
                        g.LearningRate = lr;
                    optimizer.step();
                    double ramp = penalties.RampAt(at);
                    double strength = lr * ramp * (budget?.Update(net, ramp) ?? 1);
                    prox.Step(strength * _training.RankPenalty, strength * _training.ChannelPenalty);
                    distillation.Follow(net, at);
                    float batchLoss = loss.item<float>();
                    if (!float.IsFinite(batchLoss))
                        throw new InvalidOperationException(
                            $"Training diverged: the loss of batch {batchIndex + 1} in epoch {epoch} is {batchLoss} (learning rate {lr:G3}). " +
                            $"Lower {nameof(EdpCompressOptions.LearningRate)} (a network without BatchNorm, such as an imported one with BN folded, usually needs 10x less).");
                    lossSum += batchLoss * batch.Count;
                    correct += logits.argmax(1).eq(y).sum().item<long>();
                }
                seen += batch.Count;
                progress?.Invoke(new EdpProgress(epoch, _training.Epochs, ++batchIndex, lossSum / seen, (double)correct / seen, false, null));
            }
            var live = PruningPlanner.Plan(net, settings.Pruning).Select(Live).ToArray();
            var report = new EdpEpochReport
            {
                Epoch = epoch, Loss = lossSum / seen, Accuracy = (double)correct / seen, Seconds = clock.Elapsed.TotalSeconds,
                LiveMacs = live.Sum(l => l.Macs), WorkingSetBytes = Process.GetCurrentProcess().WorkingSet64,
            };
            epochs.Add(report);
            log($"epoch {epoch}/{_training.Epochs}: loss {report.Loss:F4}, train accuracy {report.Accuracy:P2}, {report.Seconds:F1} s, " +
                $"live MACs {report.LiveMacs:N0}{(budget is null ? "" : $", budget penalty x{budget.Multiplier:0.###}")}; rank/width {string.Join<EdpLayerProgress>(" ", live)}");
            checkpoints.Save(net, optimizer, prox, budget, distillation.State, epoch, step, shuffleSeeds.Draws, epochs);
            progress?.Invoke(new EdpProgress(epoch, _training.Epochs, batchIndex, report.Loss, report.Accuracy, true, report.LiveMacs, live));
        }
        if (!prox.IsFrozen)
            Freeze(net, prox, budget, step, penalties);
        if (distillation.HasTeacher)
            ReleaseTeacher(distillation, step, "the end of training");
        BatchNormRecalibration.Run(net, stream, _training.BatchNormRecalibrationBatches, _training.Seed, device);
        return epochs;
    }

    private void Freeze(EdpNet net, ProximalGroupLasso prox, BudgetController? budget, long step, PenaltySteps penalties)
    {
        if (prox.Groups.Count > 0)
            log($"sparsity pattern frozen at step {step} of {penalties.Total} (penalty ramp {penalties.Ramp} steps); {penalties.Total - step} steps recover on the final structure.");
        budget?.Enforce(net, log);
        prox.Freeze();
    }

    private void ReleaseTeacher(Distillation distillation, long step, string when)
    {
        distillation.Release();
        log($"distillation: teacher released at step {step} ({when}).");
    }

    /// <summary>Fraction of images whose argmax of <paramref name="logits"/> is the label.</summary>
    public static double Accuracy(Func<Tensor, Tensor> logits, ImageBatchStream stream, NetworkGraph graph, Device device)
    {
        using var noGrad = no_grad();
        long correct = 0, seen = 0;
        foreach (var batch in stream.Read(random: null))
        {
            using var scope = NewDisposeScope();
            var (x, y) = ToTensors(batch, graph.InChannels, graph.Height, graph.Width, device);
            correct += logits(x).argmax(1).eq(y).sum().item<long>();
            seen += batch.Count;
        }
        return (double)correct / seen;
    }

    private (Tensor X, Tensor Y) ToTensors(ImageBatch batch, int c, int h, int w) => ToTensors(batch, c, h, w, device);

    internal static (Tensor X, Tensor Y) ToTensors(ImageBatch batch, int c, int h, int w, Device device)
    {
        var pixels = batch.Count == batch.Capacity ? batch.Pixels : batch.Pixels[..(batch.Count * batch.PixelCount)];
        var labels = batch.Count == batch.Capacity ? batch.Labels : batch.Labels[..batch.Count];
        return (tensor(pixels, [batch.Count, c, h, w]).to(device), tensor(labels).to(device));
    }

    private static EdpLayerProgress Live(LayerPlan p) => new(p.Name, p.KeptRank?.Length, p.KeptOutputs.Length, p.After.Macs, p.After.Params);
}
