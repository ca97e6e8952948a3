using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>An unset learning rate and an unset <see cref="EdpCompressOptions.Decompose"/> are chosen by where the
/// weights come from: a built-in network trains from scratch at 0.05 as plain layers with channel groups, an imported
/// model fine-tunes at 0.005 (a BN-folded export diverges at 0.05) as compressed-aware blocks; a value the user sets
/// always wins.</summary>
public class SourceDefaultsTests
{
    private static double Resolved(EdpCompressOptions options) => EdpSettings.From(options).Schedule.LearningRate;

    [Fact]
    public void ABuiltInNetworkPrunesChannelsAndAnImportedOneDecomposesUnlessTold()
    {
        static bool Decomposed(EdpCompressOptions options) => EdpSettings.From(options).Network.Decompose;
        Assert.False(Decomposed(new EdpCompressOptions()));
        Assert.True(Decomposed(new EdpCompressOptions { OnnxModelPath = "model.onnx" }));
        Assert.True(Decomposed(new EdpCompressOptions { OnnxModel = [1, 2, 3] }));
        Assert.True(Decomposed(new EdpCompressOptions { Decompose = true }));
        Assert.False(Decomposed(new EdpCompressOptions { OnnxModelPath = "model.onnx", Decompose = false }));
    }

    [Fact]
    public void ABuiltInNetworkTrainsAtTheFromScratchRate()
        => Assert.Equal(0.05, Resolved(new EdpCompressOptions()));

    [Fact]
    public void AnImportedModelFineTunesAtATenthOfIt()
    {
        Assert.Equal(0.005, Resolved(new EdpCompressOptions { OnnxModelPath = "model.onnx" }));
        Assert.Equal(0.005, Resolved(new EdpCompressOptions { OnnxModel = [1, 2, 3] }));
    }

    [Fact]
    public void ARateTheUserSetsIsUsedAsItIsForEitherSource()
    {
        Assert.Equal(0.05, Resolved(new EdpCompressOptions { OnnxModelPath = "model.onnx", LearningRate = 0.05 }));
        Assert.Equal(0.005, Resolved(new EdpCompressOptions { LearningRate = 0.005 }));
    }

    [Fact]
    public void TheFitSaysWhichRateItTrainsAt()
    {
        // Through the public API: an imported model with no rate set trains at 0.005, and the log says so.
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress")) lock (log) log.Add(e.Message); };
        var model = OnnxPatternModels.Build("depthwise", 13);
        var train = ml.Data.LoadFromEnumerable(TestData.Train.Take(256));
        var options = new EdpCompressOptions { OnnxModel = model.Bytes, Epochs = 1, BatchSize = 64, NumberOfThreads = 2, MeasureLatency = false, ChannelMultiple = 1 };
        using var edp = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.CompressEdp(options)).Fit(train).LastTransformer;
        Assert.Contains(log, m => m.Contains("learning rate 0.005."));
        Assert.Contains(log, m => m.Contains("(compressed-aware blocks)"));
    }
}
