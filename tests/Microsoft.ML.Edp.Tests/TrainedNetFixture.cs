using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Networks trained once on the embedded subset through the internal API: a compressed one with strong
/// penalties (so that real groups reach zero) and a plain one. Shared by the Pruning &amp; Merging and export tests.</summary>
public sealed class TrainedNetFixture : IDisposable
{
    public const int CheckImages = 500;

    internal EdpNet Compressed { get; }
    internal EdpNet Plain { get; }

    /// <summary>The first <see cref="CheckImages"/> real test images as [N, 1, 28, 28].</summary>
    public Tensor TestImages { get; }

    /// <summary>Their class indices.</summary>
    public Tensor TestLabels { get; }

    public static EdpCompressOptions StrongOptions => new()
    {
        Epochs = 4, BatchSize = 32, NumberOfThreads = 2, Seed = 1, TargetMacsRatio = null, RankPenalty = 0.4, ChannelPenalty = 0.4, PenaltyHoldFraction = 0.7, PruneThreshold = 0,
        ChannelGroup = EdpChannelGroup.BatchNorm,
        // Fixed penalties shrink until the freeze, so its step sets how much is left: the 0.7 hold of these 376 steps
        // leaves a pruned net that still classifies; the schedule's floors would move it to step 334 and leave width 1.
        MinSelectionSteps = 0,
    };

    public TrainedNetFixture()
    {
        Compressed = Train(StrongOptions);
        Plain = Train(new EdpCompressOptions { Epochs = 3, BatchSize = 32, NumberOfThreads = 2, Seed = 1, Compress = false });
        var pixels = TestData.Test.Take(CheckImages).SelectMany(i => i.Features).ToArray();
        TestImages = tensor(pixels, [CheckImages, 1, 28, 28]);
        TestLabels = tensor(TestData.Test.Take(CheckImages).Select(i => TestData.KeyIndex(i.Label)).ToArray());
    }

    internal static EdpNet Train(EdpCompressOptions options)
    {
        var ml = new MLContext(1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TestData.Train))
            .Transform(ml.Data.LoadFromEnumerable(TestData.Train));
        var schema = EdpInputSchema.Validate(data.Schema, options);
        TorchRuntime.Configure(options.NumberOfThreads, options.Seed);
        var settings = TestData.Settings(options);
        var net = new EdpNet(settings.Graph(schema.ClassCount), options.CoefficientInit);
        new EdpTrainer(settings, CPU, _ => { }).Train(net, new ImageBatchStream(data, schema, options.BatchSize, options.ShuffleBufferSize), TestData.Train.Count);
        net.eval();
        return net;
    }

    public void Dispose()
    {
        Compressed.Dispose();
        Plain.Dispose();
        TestImages.Dispose();
        TestLabels.Dispose();
    }
}
