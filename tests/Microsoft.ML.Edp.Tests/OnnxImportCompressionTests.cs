using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Edp.Tests;

/// <summary>An imported ONNX CNN goes through the whole of <c>CompressEdp</c>: it trains from its weights, comes out
/// smaller, and still classifies.</summary>
public class OnnxImportCompressionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("vgg-opset13")]
    [InlineData("resnet-opset11")]
    [InlineData("mixed-opset13")]
    [InlineData("squeeze-excitation-opset13")]
    [InlineData("dense-concat-opset13")]
    [InlineData("depthwise-opset13")]
    [InlineData("channel-shuffle-opset13")]
    [InlineData("grouped-block-opset13")]
    [InlineData("split-opset13")]
    public void ImportedModelCompressesToASmallerAccurateClassifier(string name)
    {
        // "mixed" has the single-input operators the importer added for the common families: SAME and unequal pads, Pad,
        // ceil_mode, input normalisation, HardSwish, LeakyRelu, SiLU, Clip and an average over the whole last map; the
        // others are the coupled patterns (see OnnxPatternModels).
        var model = OnnxTestModels.All.SingleOrDefault(m => m.Name == name) ?? OnnxPatternModels.Build(name[..name.LastIndexOf("-opset", StringComparison.Ordinal)], 13);
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(TestData.Train);
        var test = ml.Data.LoadFromEnumerable(TestData.Test);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label");
        var options = EdpPipelineFixture.Options(toKey.Fit(train).Transform(test));
        options.OnnxModel = model.Bytes;
        options.ChannelMultiple = 1; // the test models are 8 channels wide or less: rounding to 8 would keep them whole
        // The test models hold random weights, not trained ones: they train as from scratch, at the built-in rate.
        options.LearningRate = EdpSettings.ScratchLearningRate;

        var fitted = toKey.Append(ml.Transforms.CompressEdp(options)).Fit(train);
        using var edp = fitted.LastTransformer;
        var report = edp.Report;
        var accuracy = ml.MulticlassClassification.Evaluate(fitted.Transform(test)).MacroAccuracy;
        output.WriteLine($"{name}: MACs {report.MacsBefore:N0} -> {report.MacsAfter:N0} ({report.MacsRatio:P1}), params {report.ParamsBefore:N0} -> {report.ParamsAfter:N0}, test accuracy {accuracy:P1} (before PM {report.ValidationAccuracyBeforePruning:P1}).");

        Assert.Equal("ONNX model", report.Architecture);
        Assert.True(report.MacsAfter < 0.9 * report.MacsBefore, $"MACs {report.MacsBefore} -> {report.MacsAfter}: not smaller.");
        Assert.True(report.ParamsAfter < report.ParamsBefore, $"Params {report.ParamsBefore} -> {report.ParamsAfter}: not smaller.");
        // The coupled pattern models are 4 to 24 channels wide: after this short fit they classify far above chance
        // (10%) but below the wider models (measured 53.1% to 62.4%). The 8-wide ResNet loses channels of its residual
        // streams too, down to 45% of its MACs (measured 68.1%).
        double floor = name switch
        {
            "squeeze-excitation-opset13" or "dense-concat-opset13" or "depthwise-opset13" or "channel-shuffle-opset13" or "grouped-block-opset13" or "split-opset13" => 0.45,
            "resnet-opset11" => 0.60,
            _ => 0.70,
        };
        Assert.InRange(accuracy, floor, 1.0);
        // Pruning & Merging of the imported graph costs (almost) nothing: it removes only what training zeroed.
        Assert.InRange(report.ValidationAccuracyAfterPruning!.Value - report.ValidationAccuracyBeforePruning!.Value, -0.02, 1.0);
    }
}
