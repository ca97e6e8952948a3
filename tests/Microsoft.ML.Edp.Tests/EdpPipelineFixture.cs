using Microsoft.ML.Data;

namespace Microsoft.ML.Edp.Tests;

/// <summary>One <c>CompressEdp</c> fit on the embedded subset through the public API, shared by the pipeline tests.</summary>
public sealed class EdpPipelineFixture : IDisposable
{
    public const int Epochs = 6;
    public const int BatchSize = 32;

    public MLContext Ml { get; } = new(seed: 1);
    public IDataView Train { get; }
    public IDataView Test { get; }
    public TransformerChain<EdpCompressTransformer> Model { get; }
    public IDataView Scored { get; }
    public List<EdpProgress> Progress { get; } = [];
    public List<string> Log { get; } = [];

    /// <summary>Small batches and strong penalties, so that 3,000 images in a few epochs are enough steps to prune. The
    /// ramp is pinned at 0.5: these penalties at full strength from 30% of training prune an imported ResNet below the
    /// accuracy floor its test states (67.8% against 70%). Kept counts are multiples of 8 on every CPU, so the
    /// assertions do not depend on the machine's conv block.</summary>
    public static EdpCompressOptions Options(IDataView validation) => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, Seed = 1, NumberOfThreads = 2, ValidationSet = validation,
        TargetMacsRatio = null, RankPenalty = 0.25, ChannelPenalty = 0.25, PenaltyRampFraction = 0.5, PenaltyHoldFraction = 0.7, ChannelGroup = EdpChannelGroup.BatchNorm,
        ChannelMultiple = 8,
    };

    public EdpPipelineFixture()
    {
        Ml.Log += (_, e) => { if (e.Source.Contains("EdpCompress")) lock (Log) Log.Add(e.Message); };
        Train = Ml.Data.LoadFromEnumerable(TestData.Train);
        Test = Ml.Data.LoadFromEnumerable(TestData.Test);
        var toKey = Ml.Transforms.Conversion.MapValueToKey("Label");
        var options = Options(toKey.Fit(Train).Transform(Test));
        options.Progress = Progress.Add;
        Model = toKey.Append(Ml.Transforms.CompressEdp(options)).Fit(Train);
        Scored = Model.Transform(Test);
    }

    public void Dispose() => Model.LastTransformer.Dispose();
}
