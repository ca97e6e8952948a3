using System.Diagnostics;
using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>The single EDP training stage: SGD on the cross-entropy, then the proximal group step on every CAB after
/// each optimizer step, with the penalties ramped in over the first part of training.</summary>
internal sealed class EdpTrainer(EdpCompressOptions options, Device device, Action<string> log)
{
    public IReadOnlyList<EdpEpochReport> Train(EdpNet net, ImageBatchStream stream, long rows)
    {
        var coefficients = net.CoefficientParameters().ToHashSet();
        var others = net.parameters().Where(p => !coefficients.Contains(p)).ToList();
        var groups = new List<SGD.ParamGroup> { new(others, new SGD.Options { weight_decay = options.WeightDecay, momentum = options.Momentum }) };
        if (coefficients.Count > 0)
            groups.Add(new(coefficients, new SGD.Options { weight_decay = 0, momentum = options.Momentum }));
        using var optimizer = optim.SGD(groups, options.LearningRate, options.Momentum);
        var prox = ProximalGroupLasso.For(net, options.PenaltyWeighting, options.ChannelGroup);

        long stepsPerEpoch = (rows + options.BatchSize - 1) / options.BatchSize;
        long totalSteps = stepsPerEpoch * options.Epochs, step = 0;
        var budget = BudgetController.Create(options, net, prox, stepsPerEpoch);
        var shuffleSeeds = new SeedSequence(options.Seed);
        var epochs = new List<EdpEpochReport>();
        var checkpoints = new TrainingCheckpoints(options, net.Graph, rows, log);
        int firstEpoch = 1;
        if (checkpoints.Resume(net, optimizer, prox, budget) is { } resumed)
        {
            (firstEpoch, step) = (resumed.Epoch + 1, resumed.Step);
            shuffleSeeds.SkipTo(resumed.ShuffleDraws);
            epochs.AddRange(resumed.Epochs);
        }
        var (c, h, w) = (net.Graph.InChannels, net.Graph.Height, net.Graph.Width);
        net.train();
        for (int epoch = firstEpoch; epoch <= options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            int batchIndex = 0;
            foreach (var batch in stream.Read(new Random(shuffleSeeds.Next()), options.CancellationToken))
            {
                double progress = (double)step++ / totalSteps;
                if (!prox.IsFrozen && progress >= options.PenaltyHoldFraction)
                    Freeze(net, prox, budget);
                double lr = LearningRateSchedules.At(options.LearningRateSchedule, options.LearningRate, progress);
                using (var scope = NewDisposeScope())
                {
                    var (x, y) = ToTensors(batch, c, h, w);
                    var logits = net.forward(x);
                    var loss = nn.functional.cross_entropy(logits, y);
                    optimizer.zero_grad();
                    loss.backward();
                    if (!prox.IsFrozen)
                        budget?.Observe();
                    foreach (var g in optimizer.ParamGroups)
                        g.LearningRate = lr;
                    optimizer.step();
                    double ramp = SparsityRamp.At(progress, options.PenaltyRampFraction);
                    double strength = lr * ramp * (budget?.Update(net, progress) ?? 1);
                    prox.Step(strength * options.RankPenalty, strength * options.ChannelPenalty);
                    float batchLoss = loss.item<float>();
                    if (!float.IsFinite(batchLoss))
                        throw new InvalidOperationException(
                            $"Training diverged: the loss of batch {batchIndex + 1} in epoch {epoch} is {batchLoss} (learning rate {lr:G3}). " +
                            $"Lower {nameof(EdpCompressOptions.LearningRate)} (a network without BatchNorm, such as an imported one with BN folded, usually needs 10x less).");
                    lossSum += batchLoss * batch.Count;
                    correct += logits.argmax(1).eq(y).sum().item<long>();
                }
                seen += batch.Count;
                options.Progress?.Invoke(new EdpProgress(epoch, options.Epochs, ++batchIndex, lossSum / seen, (double)correct / seen, false, null));
            }
            var plans = PruningPlanner.Plan(net, options.PruneThreshold, options.ChannelGroup, options.ChannelMultiple);
            var report = new EdpEpochReport
            {
                Epoch = epoch, Loss = lossSum / seen, Accuracy = (double)correct / seen, Seconds = clock.Elapsed.TotalSeconds,
                LiveMacs = plans.Sum(p => p.After.Macs), WorkingSetBytes = Process.GetCurrentProcess().WorkingSet64,
            };
            epochs.Add(report);
            log($"epoch {epoch}/{options.Epochs}: loss {report.Loss:F4}, train accuracy {report.Accuracy:P2}, {report.Seconds:F1} s, " +
                $"live MACs {report.LiveMacs:N0}{(budget is null ? "" : $", budget penalty x{budget.Multiplier:0.###}")}; rank/width {string.Join(" ", plans.Select(Describe))}");
            checkpoints.Save(net, optimizer, prox, budget, epoch, step, shuffleSeeds.Draws, epochs);
            options.Progress?.Invoke(new EdpProgress(epoch, options.Epochs, batchIndex, report.Loss, report.Accuracy, true, report.LiveMacs));
        }
        if (!prox.IsFrozen)
            Freeze(net, prox, budget);
        BatchNormRecalibration.Run(net, stream, options.BatchNormRecalibrationBatches, options.Seed, device);
        return epochs;
    }

    private void Freeze(EdpNet net, ProximalGroupLasso prox, BudgetController? budget)
    {
        budget?.Enforce(net, log);
        prox.Freeze();
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

    private static string Describe(LayerPlan p)
        => p.KeptRank is { } r ? $"{p.Name}:{r.Length}/{p.KeptOutputs.Length}" : $"{p.Name}:-/{p.KeptOutputs.Length}";
}
