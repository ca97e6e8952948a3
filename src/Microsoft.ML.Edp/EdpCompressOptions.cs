using System.ComponentModel;
using Microsoft.ML.Data;

namespace Microsoft.ML.Edp;

/// <summary>The built-in network families that <see cref="EdpCompressEstimator"/> can train and compress.</summary>
public enum EdpArchitecture
{
    /// <summary>VGG-S: 3x3 convs of widths 16,16,32,32,64,64 with BN and ReLU, a 2x2 max pool after the 2nd and 4th conv,
    /// global average pooling and a linear classifier (72,666 parameters and 7.34M MACs at 1x28x28, 10 classes).</summary>
    VggSmall,
    /// <summary>VGG-M: the VGG-S layout with widths 32,32,64,64,128,128.</summary>
    VggMedium,
    /// <summary>The VGG-S layout with the conv widths given in <see cref="EdpCompressOptions.ConvWidths"/>.</summary>
    CustomVgg,
    /// <summary>ResNet-20 for small images (He et al. 2016): a 3x3 stem, three stages of three basic blocks at widths
    /// 16, 32, 64 (see <see cref="EdpCompressOptions.ResNetWidths"/>), 1x1 projection shortcuts where the shape
    /// changes, global average pooling and a linear classifier.</summary>
    ResNet20,
    /// <summary>ResNet-56: the <see cref="ResNet20"/> layout with nine basic blocks a stage.</summary>
    ResNet56,
}

/// <summary>Where the network trains.</summary>
public enum EdpDevice
{
    /// <summary>The CPU (libtorch CPU backend).</summary>
    Cpu,
    /// <summary>A CUDA GPU, when the app references TorchSharp's CUDA backend and a GPU is present.</summary>
    Cuda,
}

/// <summary>How the learning rate changes over training.</summary>
public enum EdpLearningRateSchedule
{
    /// <summary>Cosine decay from <see cref="EdpCompressOptions.LearningRate"/> to zero over all steps.</summary>
    Cosine,
    /// <summary>A constant learning rate.</summary>
    Constant,
    /// <summary>Divide the learning rate by 10 at 50% and again at 75% of the steps.</summary>
    Step,
}

/// <summary>How a compressed-aware block's coefficient matrix A and basis B start.</summary>
public enum EdpCoefficientInit
{
    /// <summary>A is the identity and B is the plain layer's initial weight (SVD of it where the rank is capped below the
    /// output width), so an untrained block computes exactly what the plain layer computes.</summary>
    Identity,
    /// <summary>Advanced. A is a random orthogonal matrix and B = A^T W, so A.B = W but the rank and channel groups of A
    /// differ.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    RandomOrthogonal,
}

/// <summary>How each group's proximal shrink is weighted (<see cref="EdpCompressOptions.PenaltyWeighting"/>, an advanced option).</summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public enum EdpPenaltyWeighting
{
    /// <summary>Every group shrinks by the same amount; channels that a grouped conv ties in a unit shrink together as
    /// much as they would apart.</summary>
    Uniform,
    /// <summary>By the square root of the group's size (classic group lasso).</summary>
    GroupSize,
    /// <summary>By the multiply-accumulates the group carries, relative to the mean over all groups of its kind, so
    /// that expensive channels and basis filters are pushed harder than cheap ones.</summary>
    Cost,
}

/// <summary>Which groups a budget's penalty (<see cref="EdpCompressOptions.TargetMacsRatio"/>,
/// <see cref="EdpCompressOptions.TargetParamsRatio"/>) shrinks.</summary>
public enum EdpBudgetPenalty
{
    /// <summary>Only the groups the budget needs removed by then: groups are ranked by a first-order (Taylor) estimate
    /// of how much the loss grows without them, per MAC they carry, and the least important ones that meet the path to
    /// the budget are shrunk to zero; every other group trains without penalty. The cut when the pattern freezes takes
    /// the same ranking.</summary>
    LeastImportant,
    /// <summary>Advanced. Every group, as with fixed penalties, with the strength scaled to follow the path; the cut when
    /// the pattern freezes removes the groups with the smallest norms relative to their layer's largest.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    AllGroups,
}

/// <summary>What the channel group's norm, and so its shrink, is measured on.</summary>
public enum EdpChannelGroup
{
    /// <summary>The row of A with the channel's BN gamma and beta, all shrunk together (the method document's form).</summary>
    CoefficientsAndBatchNorm,
    /// <summary>The channel's BN gamma and beta only; the row of A is zeroed with them. BN makes the output blind to the
    /// scale of A's rows, so shrinking them costs the loss nothing and, under strong penalties, every row of a layer
    /// shrinks together until BN's epsilon swamps them and the whole layer dies; measuring on gamma and beta prunes
    /// channels one by one instead.</summary>
    BatchNorm,
}

/// <summary>One training progress event, passed to <see cref="EdpCompressOptions.Progress"/>.</summary>
/// <param name="Epoch">The 1-based epoch.</param>
/// <param name="Epochs">The number of epochs.</param>
/// <param name="Batch">The 1-based batch within the epoch.</param>
/// <param name="Loss">The mean cross-entropy of this epoch's batches so far.</param>
/// <param name="Accuracy">The training accuracy of this epoch's batches so far.</param>
/// <param name="EpochCompleted">True on the event that closes an epoch.</param>
/// <param name="LiveMacs">On the event that closes an epoch, the MACs the network would have after Pruning &amp; Merging now; else null.</param>
/// <param name="Layers">On the event that closes an epoch, every conv and linear layer as Pruning &amp; Merging would leave it now, in network order; else null.</param>
public sealed record EdpProgress(int Epoch, int Epochs, int Batch, double Loss, double Accuracy, bool EpochCompleted, long? LiveMacs,
    IReadOnlyList<EdpLayerProgress>? Layers = null);

/// <summary>Options for <see cref="EdpCompressEstimator"/>. Defaults are written beside each field.</summary>
public sealed class EdpCompressOptions
{
    /// <summary>The input column: a known-size <c>Vector&lt;Single&gt;</c> of Channels*Height*Width pixels, row-major CHW.</summary>
    public string FeatureColumnName = "Features";

    /// <summary>The label column: a key type whose key values name the classes.</summary>
    public string LabelColumnName = "Label";

    /// <summary>The output column of class probabilities (<c>Vector&lt;Single&gt;</c> of the class count).</summary>
    public string ScoreColumnName = "Score";

    /// <summary>The output column of the predicted class, a key with the label's key values.</summary>
    public string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>Image channels (1 for grayscale, 3 for RGB). Null (the default) infers the image shape from the feature
    /// column's size where exactly one fits: channels 1 or 3, and height equal to width unless one of them is given
    /// (784 values are 1x28x28, 3,072 are 3x32x32). A size that fits no such shape, or more than one, fails naming the
    /// column and its size; set all three sizes for other images.</summary>
    public int? ImageChannels = null;

    /// <summary>Image height in pixels; null infers it (see <see cref="ImageChannels"/>).</summary>
    public int? ImageHeight = null;

    /// <summary>Image width in pixels; null infers it (see <see cref="ImageChannels"/>).</summary>
    public int? ImageWidth = null;

    /// <summary>The network to train.</summary>
    public EdpArchitecture Architecture = EdpArchitecture.VggSmall;

    /// <summary>A path to an ONNX CNN to start from instead of <see cref="Architecture"/>: its weights initialise the
    /// network (convs and linear layers as SVD-initialised compressed-aware blocks) and EDP training continues from
    /// them. Its input [N, C, H, W] must match the image shape (<see cref="ImageChannels"/>,
    /// <see cref="ImageHeight"/> and <see cref="ImageWidth"/>, given or inferred from the data); a classifier with a different class count, or a model that ends in features, gets a
    /// new head. Unsupported operators are rejected with an <see cref="EdpOnnxImportException"/>. Default null.</summary>
    public string? OnnxModelPath = null;

    /// <summary>The bytes of an ONNX CNN to start from, as <see cref="OnnxModelPath"/> does; set one or the other. Default null.</summary>
    public byte[]? OnnxModel = null;

    /// <summary>Rewrites the imported network, once its head is fitted, before it is built and trained; null keeps it as
    /// imported. Internal, for the pretrained benchmark: it trains the imported architecture from random weights (and
    /// narrowed), the comparison that says what the pretrained weights are worth.</summary>
    internal Func<Network.NetworkGraph, Network.NetworkGraph>? ImportedNetworkRewrite = null;

    /// <summary>Conv widths for <see cref="EdpArchitecture.CustomVgg"/>; convs come in pairs, with a max pool between pairs.
    /// Required with <see cref="EdpArchitecture.CustomVgg"/> and rejected with any other architecture, so that widths are
    /// never silently ignored. Default null.</summary>
    public int[]? ConvWidths = null;

    /// <summary>Widths of the stem and of the three stages for <see cref="EdpArchitecture.ResNet20"/> and
    /// <see cref="EdpArchitecture.ResNet56"/>: four positive numbers, rejected with any other architecture. Null (the
    /// default) means 16, 16, 32, 64.</summary>
    public int[]? ResNetWidths = null;

    /// <summary>A budget: the fraction of the plain network's multiply-accumulates to keep, in (0, 1]; the default, 0.5,
    /// keeps half (what that costs in accuracy: docs/results.md). The cost follows a path down to the target along the penalty ramp, with the
    /// penalty on the groups <see cref="BudgetPenalty"/> chooses; when the pattern freezes
    /// (<see cref="PenaltyHoldFraction"/>) whatever is left over the budget is cut, and the rest of training recovers.
    /// Too small a target fails fast, naming the reachable ratio. Null trains with the fixed <see cref="RankPenalty"/>
    /// and <see cref="ChannelPenalty"/> instead.</summary>
    public double? TargetMacsRatio = 0.5;

    /// <summary>A budget on parameters, like <see cref="TargetMacsRatio"/>; both may be set, and both are met (set
    /// <see cref="TargetMacsRatio"/> to null to budget parameters alone). Default null.</summary>
    public double? TargetParamsRatio = null;

    /// <summary>A budget on inference latency: the fraction of the plain network's latency to keep, in (0, 1], as the
    /// latency table predicts it in ONNX Runtime at <see cref="LatencyBatchSize"/> (a table measured on this machine,
    /// or the one at <see cref="LatencyTablePath"/>). The least-important selection then ranks groups per millisecond
    /// they save, the freeze cut meets the predicted latency, and Pruning &amp; Merging keeps a basis and coefficient
    /// pair only where the table says it runs faster than the merged layer and it has fewer MACs. Needs <see cref="MeasureLatency"/> or
    /// <see cref="LatencyTablePath"/>. Beside <see cref="TargetMacsRatio"/>, both are met (set that to null to budget
    /// latency alone). Default null.</summary>
    public double? TargetLatencyRatio = null;

    /// <summary>A latency budget in milliseconds per run at <see cref="LatencyBatchSize"/>, as the latency table
    /// predicts it, like <see cref="TargetLatencyRatio"/>. A table measured on another machine predicts that machine's
    /// milliseconds. Default null.</summary>
    public double? TargetLatencyMilliseconds = null;

    /// <summary>Train with group penalties (on compressed-aware blocks where <see cref="Decompose"/> says so) and run
    /// Pruning &amp; Merging. False trains the same architecture with plain layers and no PM, and ignores the budgets:
    /// the baseline every comparison is made against.</summary>
    public bool Compress = true;

    /// <summary>Whether each compressed conv and linear layer trains as a compressed-aware block (EDP's basis layer and
    /// coefficient layer, started from the SVD of given weights), so that it can end with a lower rank as well as fewer
    /// channels; a rank is kept only where the budget's cost says the pair is cheaper than one layer. False trains them
    /// as plain layers whose output channels are the groups, with the same penalties, budgets, importance ranking and
    /// Pruning &amp; Merging, so the fit removes channels only, and each step costs less. Default null: true for a model
    /// given by <see cref="OnnxModelPath"/> or <see cref="OnnxModel"/>, whose trained weights the blocks factor, and
    /// false for a built-in architecture trained from scratch (docs/results.md compares the two). A value set here is
    /// used as it is.</summary>
    public bool? Decompose = null;

    /// <summary>Passes over the training data.</summary>
    public int Epochs = 5;

    /// <summary>Images per mini-batch.</summary>
    public int BatchSize = 128;

    /// <summary>Peak SGD learning rate. Default null: 0.05 for a built-in architecture trained from scratch, and 0.005 for
    /// a model given by <see cref="OnnxModelPath"/> or <see cref="OnnxModel"/>, whose trained weights fine-tune at a
    /// tenth of that (an export with BatchNorm folded into the convs diverges at 0.05, and a pretrained network keeps
    /// less of what it learned). A value set here is used as it is.</summary>
    public double? LearningRate = null;

    /// <summary>How the learning rate decays.</summary>
    public EdpLearningRateSchedule LearningRateSchedule = EdpLearningRateSchedule.Cosine;

    /// <summary>Optimizer steps over which the learning rate rises linearly to the schedule's value at the start of
    /// training. Default 0: no warm-up. A deep network from random weights (an untrained ResNet-50 export, say) can
    /// diverge in its first steps at the from-scratch learning rate, its compressed-aware form more than its plain one;
    /// a warm-up of an epoch or so prevents that.</summary>
    public int LearningRateWarmupSteps = 0;

    /// <summary>SGD momentum.</summary>
    public double Momentum = 0.9;

    /// <summary>L2 weight decay on every parameter except the coefficient matrices A, which carry the group penalties instead.</summary>
    public double WeightDecay = 5e-4;

    /// <summary>Random seed for weight initialisation and shuffling.</summary>
    public int Seed = 1;

    /// <summary>libtorch intra-op threads; null uses one per core. On one thread the same seed and data give
    /// byte-identical ONNX models. With more threads the reduction order depends on the thread count, so only one
    /// thread is promised to reproduce (docs/platform.md).</summary>
    public int? NumberOfThreads = null;

    /// <summary>Rows held in the shuffle buffer; the whole data set is never held.</summary>
    public int ShuffleBufferSize = 16_384;

    /// <summary>Optional validation data with the training schema; its accuracy is reported before and after PM.</summary>
    public IDataView? ValidationSet = null;

    /// <summary>Called after every batch, and once at the end of each epoch.</summary>
    public Action<EdpProgress>? Progress = null;

    /// <summary>Cancels training: checked before every row read, so a fit stops within one batch with an
    /// <see cref="OperationCanceledException"/>; the last checkpoint written stays valid.</summary>
    public CancellationToken CancellationToken = default;

    /// <summary>A folder for the training checkpoint (<c>edp-checkpoint.bin</c>), replaced atomically at the end of every
    /// epoch with the network, the SGD momentum buffers, the schedule position, the epoch and the random state; null
    /// writes none. It is checked for writability before training starts and kept after the fit.</summary>
    public string? CheckpointDirectory = null;

    /// <summary>Continue from the checkpoint in <see cref="CheckpointDirectory"/> if one is there (else start from
    /// epoch 1). It must come from a run with the same data and training options; on one thread the resumed run ends
    /// with the same model as a run that never stopped.</summary>
    public bool ResumeFromCheckpoint = false;

    /// <summary>Where to train.</summary>
    public EdpDevice Device = EdpDevice.Cpu;

    /// <summary>ONNX Runtime GPU device for scoring, as in ML.NET's ApplyOnnxModel; null scores on the CPU.</summary>
    public int? GpuDeviceId = null;

    /// <summary>With <see cref="EdpDevice.Cuda"/> or <see cref="GpuDeviceId"/> and no usable GPU: true falls back to the CPU with a warning, false throws.</summary>
    public bool FallbackToCpu = true;

    /// <summary>L2,1 strength on the columns of A (the rank groups). With a budget it only sets how fast the chosen
    /// groups fade. Without one (<see cref="TargetMacsRatio"/> = null) it decides the size: stronger penalties keep
    /// fewer groups (docs/choosing-a-budget.md).</summary>
    public double RankPenalty = 0.085;

    /// <summary>L2,1 strength on the rows of A with their BN gamma and beta (the channel groups).</summary>
    public double ChannelPenalty = 0.085;

    /// <summary>Fraction of training over which the penalties ramp from 0 to full strength along a sigmoid; with a budget,
    /// the cost follows the ramp down to the target, which it reaches at this point.</summary>
    public double PenaltyRampFraction = 0.3;

    /// <summary>Fraction of training after which the sparsity pattern is frozen: groups that are zero stay zero and the
    /// others are no longer shrunk, so the rest of training recovers accuracy on the final structure. 1 never freezes.
    /// With the default 0.3 ramp this leaves 60% of training to recover (the sweep that chose it: docs/results.md).</summary>
    public double PenaltyHoldFraction = 0.4;

    /// <summary>Optimizer steps (batches) before the sparsity pattern freezes, at least: choosing what to remove, and
    /// letting it fade while the rest adapts, takes steps in absolute number, not in proportion to the run. On a run
    /// long enough for this and <see cref="MinRecoverySteps"/> where <see cref="PenaltyHoldFraction"/> would freeze
    /// earlier, the freeze moves to this step and the ramp moves with it, in proportion. On a run too short for both,
    /// such a freeze moves to the step that splits the run as this and <see cref="MinRecoverySteps"/> split their sum,
    /// and a budgeted run is warned before training. 0 keeps the fractions. On short runs of Fashion-MNIST (120 and
    /// 471 steps) a later freeze did better, an earlier one worse (docs/choosing-a-budget.md).</summary>
    public int MinSelectionSteps = 400;

    /// <summary>Optimizer steps that a run must have beyond <see cref="MinSelectionSteps"/> for the freeze to move
    /// there: the recovery on the final structure. A shorter run keeps this share of its steps for it.</summary>
    public int MinRecoverySteps = 50;

    /// <summary>What a channel group's norm is measured on.</summary>
    public EdpChannelGroup ChannelGroup = EdpChannelGroup.CoefficientsAndBatchNorm;

    /// <summary>PM, and a budget's selection, round each layer's kept channels and rank up to a multiple of this, adding
    /// back the strongest dropped groups. Null (the default) uses the channel block of ONNX Runtime's conv kernels on
    /// this CPU: 16 where AVX-512F is present, 8 otherwise; the report names the value used. Widths that are not a
    /// multiple of the block are padded up to it or leave the blocked kernels altogether, so they run no faster, or
    /// slower, than the next multiple (benchmarks/results/latency-speedup.md, docs/latency.md). Where a budget cannot be
    /// met in multiples of the block (a small network), the default halves it until the budget can be, with a warning.
    /// 1 keeps exactly what training kept; an explicit value always wins.</summary>
    public int? ChannelMultiple = null;

    /// <summary>After the fit, time the exported model against the plain network's export in ONNX Runtime (with the session
    /// options ML.NET's <c>OnnxTransformer</c> uses, but with no thread spinning between runs, interleaved round by round, at <see cref="LatencyBatchSize"/>, 1 and
    /// 64) and predict both from a latency table; the report holds both, and a model measured slower than plain, or far
    /// below its predicted speed-up, is logged as a warning with its likely reason. The table is measured on this machine in seconds the first
    /// time and cached per CPU model, ONNX Runtime version and network (or read from <see cref="LatencyTablePath"/>).
    /// False skips both. Default true.</summary>
    public bool MeasureLatency = true;

    /// <summary>The batch size the model will be scored at (a <c>PredictionEngine</c> scores one image at a time): latency
    /// is predicted and timed at it, and at 1 and 64 beside it. Default 1.</summary>
    public int LatencyBatchSize = 1;

    /// <summary>A latency table measured on the deployment machine with <c>edp profile</c>, for this network; null (the
    /// default) measures one on this machine, or reads it from the cache. A table that does not fit the network (a
    /// layer missing or of another shape, a missing batch size, a negative time) fails the fit before training, naming
    /// the problem.</summary>
    public string? LatencyTablePath = null;

    /// <summary>Training batches over which BN statistics are recomputed after training, before PM folds them; 0 keeps
    /// the running averages.</summary>
    public int BatchNormRecalibrationBatches = 50;

    /// <summary>PM keeps a group whose norm exceeds this fraction of the largest norm of its kind in the layer; 0 keeps every non-zero group.</summary>
    public double PruneThreshold = 1e-2;

    // Advanced: research knobs kept for the benchmarks' sweep (benchmarks/Microsoft.ML.Edp.Benchmarks/PenaltySweep.cs).
    // Their defaults won there; the alternatives stay working so that the sweep can be rerun. IDEs set to hide advanced
    // members leave them out of completion lists.

    /// <summary>Advanced. Which groups a budget's penalty shrinks: with <see cref="EdpBudgetPenalty.LeastImportant"/>
    /// (the default) only those the budget needs removed, the least important for their cost, so the rest of the
    /// network is not penalised at all; <see cref="EdpBudgetPenalty.AllGroups"/> shrinks every group. Ignored without a
    /// budget.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public EdpBudgetPenalty BudgetPenalty = EdpBudgetPenalty.LeastImportant;

    /// <summary>Advanced. How each group's shrink is weighted.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public EdpPenaltyWeighting PenaltyWeighting = EdpPenaltyWeighting.Uniform;

    /// <summary>Advanced. How A and B of a compressed-aware block start (with <see cref="Decompose"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public EdpCoefficientInit CoefficientInit = EdpCoefficientInit.Identity;

    /// <summary>Advanced. Keep the first conv and the classifier uncompressed: they lose no channels and no rank.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public bool ExcludeFirstAndLast = false;

    /// <summary>Advanced. Whether the channels of a residual stream (the layers whose outputs meet in the same residual
    /// sums) may be removed, from every member of the stream at once. Default true. False keeps every stream at its
    /// width, so that only the channels inside blocks and the ranks of the convs are cut: the budget is then met by the
    /// blocks alone, and what the stream carries from pretrained weights stays whole, which can keep more accuracy on a
    /// short fine-tune of a pretrained network (docs/results.md).</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public bool PruneResidualStreams = true;

    /// <summary>Advanced. Knowledge distillation while the network is cut: the weight alpha of the teacher's soft targets in the
    /// loss (1 - alpha) CE(labels) + alpha T^2 KL(softmax(teacher / T) || softmax(student / T)), T being
    /// <see cref="DistillationTemperature"/>. The teacher is a frozen copy of the network taken while it is still dense
    /// (when the penalty ramp reaches a tenth of its height); it costs one more forward pass per step and one copy of
    /// the weights until the sparsity pattern freezes, when it is released. Needs a penalty ramp
    /// (<see cref="PenaltyRampFraction"/> above 0) and <see cref="Compress"/>; ignored on a plain network. Default 0:
    /// off: on short runs, where it was measured, every teacher the run can afford without training a second network
    /// lost accuracy (docs/results.md).</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public double DistillationWeight = 0;

    /// <summary>Advanced. The temperature T that softens the teacher's and the network's distributions when
    /// <see cref="DistillationWeight"/> is above 0. Default 4.</summary>
    [EditorBrowsable(EditorBrowsableState.Advanced)]
    public double DistillationTemperature = 4;

    /// <summary>Internal, for the benchmarks: the distillation teacher stays through the recovery after the freeze,
    /// to the end of training, instead of being released at the freeze.</summary>
    internal bool DistillThroughRecovery = false;

    /// <summary>Internal, for the benchmarks: above 0, the distillation teacher is an exponential moving average of the
    /// network's weights with this decay, from the first step, instead of a snapshot.</summary>
    internal double DistillationEmaDecay = 0;

    /// <summary>Internal, for the benchmarks: a budget ranks groups by importance divided by the sum over its layer's
    /// groups of that kind (Molchanov et al., ICLR 2017), per unit of cost; false ranks the raw estimates per unit of
    /// cost, as earlier versions did (docs/results.md compares the two).</summary>
    internal bool LayerNormalizedImportance = true;

    /// <summary>Internal, for the benchmarks: above 0, the learning rate restarts at the freeze (learning-rate rewinding,
    /// Renda et al., ICLR 2020): over the steps left, it follows <see cref="LearningRateSchedule"/> anew from this
    /// fraction of the peak <see cref="LearningRate"/>. 0 continues the schedule of the whole run.</summary>
    internal double RecoveryLearningRate = 0;

    /// <summary>Internal, for the benchmarks: L2 weight decay on the coefficient matrices A, which otherwise carry only
    /// the group penalties.</summary>
    internal double CoefficientWeightDecay = 0;
}
