using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Bad input, one row per case: each fails with the expected exception type and a message that names the
/// column, option or file, what was expected and what was found, and leaves no output file behind (every row runs
/// with a checkpoint folder and saves the ONNX model into a fresh temporary folder).</summary>
public sealed class BadInputMatrixTests : IDisposable
{
    private sealed class ShortRow
    {
        [VectorType(100)] public float[] Features { get; set; } = new float[100];
        public string Label { get; set; } = "a";
    }

    private sealed class NotAnImageRow
    {
        [VectorType(50)] public float[] Features { get; set; } = new float[50];
        public string Label { get; set; } = "a";
    }

    private sealed class TwoShapesRow
    {
        [VectorType(48)] public float[] Features { get; set; } = new float[48];
        public string Label { get; set; } = "a";
    }

    private sealed class DoubleRow
    {
        [VectorType(784)] public double[] Features { get; set; } = new double[784];
        public string Label { get; set; } = "a";
    }

    private sealed class Row
    {
        [VectorType(784)] public float[] Features { get; set; } = new float[784];
        public string Label { get; set; } = "a";
    }

    private sealed class LabelOnly
    {
        public string Label { get; set; } = "";
    }

    private static readonly MLContext Ml = new(1);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edp-bad-input-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A row: what to run in the output folder, the exception type, and the fragments its message must hold.</summary>
    private sealed record Case(Action<string> Run, Type Exception, params string[] Message);

    private static EdpCompressOptions Tiny(Action<EdpCompressOptions>? edit = null)
    {
        // No budget: layers 4 wide cannot lose half their MACs in multiples of 8, and these cases test other inputs.
        var o = new EdpCompressOptions { Architecture = EdpArchitecture.CustomVgg, ConvWidths = [4, 4], Epochs = 1, BatchSize = 2, NumberOfThreads = 1, TargetMacsRatio = null };
        edit?.Invoke(o);
        return o;
    }

    /// <summary>Fits MapValueToKey + CompressEdp with checkpoints in <paramref name="dir"/>, then saves the ONNX model there.</summary>
    private static void FitAndSave(string dir, IDataView data, EdpCompressOptions options, bool mapLabel = true)
    {
        options.CheckpointDirectory ??= Path.Combine(dir, "checkpoints");
        var estimator = Ml.Transforms.CompressEdp(options);
        var model = mapLabel ? Ml.Transforms.Conversion.MapValueToKey("Label").Append(estimator).Fit(data).LastTransformer : estimator.Fit(data);
        using (model)
            model.SaveOnnx(Path.Combine(dir, "model.onnx"));
    }

    private static IDataView Classes(params string[] names) => Ml.Data.LoadFromEnumerable(names.Select(n => new LabelOnly { Label = n }));

    private static IDataView TwoClasses(int rows = 4, Action<Row[]>? edit = null)
    {
        var data = Enumerable.Range(0, rows).Select(i => new Row { Label = i % 2 == 0 ? "a" : "b" }).ToArray();
        edit?.Invoke(data);
        return Ml.Data.LoadFromEnumerable(data);
    }

    private static IDataView Keyed(IDataView data, params string[] classes)
        => Ml.Transforms.Conversion.MapValueToKey("Label", keyData: Classes(classes)).Fit(data).Transform(data);

    private static Case Option(Action<EdpCompressOptions> edit, string name, string expected, string found)
        => new(_ => Ml.Transforms.CompressEdp(Tiny(edit)), typeof(ArgumentOutOfRangeException), $"{name} must be {expected}; found {found}");

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["wrong feature length"] = new(d => FitAndSave(d, Ml.Data.LoadFromEnumerable(new[] { new ShortRow(), new ShortRow { Label = "b" } }),
                Tiny(o => (o.ImageChannels, o.ImageHeight, o.ImageWidth) = (1, 28, 28))),
            typeof(ArgumentOutOfRangeException), "feature column 'Features'", "expected a known-size vector of Single with 784 values (1x28x28", "found Vector<Single, 100>"),
        ["feature size that is no image shape"] = new(d => FitAndSave(d, Ml.Data.LoadFromEnumerable(new[] { new NotAnImageRow(), new NotAnImageRow { Label = "b" } }), Tiny()),
            typeof(ArgumentOutOfRangeException), "Cannot infer the image shape of feature column 'Features'", "expected a known-size vector of Single of CxHxW values",
            "found 50 values, and no square image of 1 or 3 channels has that many", "Set ImageChannels, ImageHeight and ImageWidth"),
        ["feature size that fits two image shapes"] = new(d => FitAndSave(d, Ml.Data.LoadFromEnumerable(new[] { new TwoShapesRow(), new TwoShapesRow { Label = "b" } }), Tiny(o => o.ImageHeight = 4)),
            typeof(ArgumentOutOfRangeException), "Cannot infer the image shape of feature column 'Features'", "of Cx4xW values", "found 48 values, and it fits 1x4x12 and 3x4x4 alike"),
        ["features not float"] = new(d => FitAndSave(d, Ml.Data.LoadFromEnumerable(new[] { new DoubleRow(), new DoubleRow { Label = "b" } }), Tiny()),
            typeof(ArgumentOutOfRangeException), "feature column 'Features'", "expected a known-size vector of Single", "found Vector<Double"),
        ["missing feature column"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.FeatureColumnName = "Pixels")),
            typeof(ArgumentOutOfRangeException), "no feature column 'Pixels'", "expected a known-size vector", "found no such column"),
        ["label not a key"] = new(d => FitAndSave(d, TwoClasses(), Tiny(), mapLabel: false),
            typeof(ArgumentOutOfRangeException), "label column 'Label'", "expected a key type", "found String"),
        ["missing label column"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.LabelColumnName = "Target")),
            typeof(ArgumentOutOfRangeException), "no label column 'Target'", "expected a key type", "found no such column"),
        ["missing label value"] = new(d => FitAndSave(d, Keyed(TwoClasses(edit: r => r[2].Label = "c"), "a", "b"), Tiny(), mapLabel: false),
            typeof(InvalidOperationException), "Label column 'Label'", "(key value 0) in row 2", "expected a class"),
        ["single class in the key type"] = new(d => FitAndSave(d, Ml.Data.LoadFromEnumerable(new[] { new Row(), new Row() }), Tiny()),
            typeof(ArgumentOutOfRangeException), "label column 'Label'", "expected a key type with at least 2 classes", "found a key type with 1 class"),
        ["single class present"] = new(d => FitAndSave(d, Keyed(Ml.Data.LoadFromEnumerable(new[] { new Row(), new Row() }), "a", "b"), Tiny(), mapLabel: false),
            typeof(InvalidOperationException), "Label column 'Label'", "holds 1 distinct class in 2 rows", "expected at least 2 classes"),
        ["empty data view"] = new(d => FitAndSave(d, Keyed(Ml.Data.LoadFromEnumerable(Array.Empty<Row>()), "a", "b"), Tiny(), mapLabel: false),
            typeof(InvalidOperationException), "training data is empty", "expected at least one row in columns 'Features' and 'Label'", "found 0 rows"),
        ["NaN pixel"] = new(d => FitAndSave(d, TwoClasses(edit: r => r[3].Features[17] = float.NaN), Tiny()),
            typeof(InvalidOperationException), "Feature column 'Features'", "holds NaN at index 17 of row 3", "expected finite pixel values"),
        ["infinite pixel"] = new(d => FitAndSave(d, TwoClasses(edit: r => r[1].Features[5] = float.NegativeInfinity), Tiny()),
            typeof(InvalidOperationException), "Feature column 'Features'", "holds -Infinity at index 5 of row 1", "expected finite pixel values"),
        ["validation set with another schema"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.ValidationSet = Ml.Data.LoadFromEnumerable(new[] { new ShortRow() }))),
            typeof(ArgumentOutOfRangeException), "feature column 'Features' in the validation data", "784 values", "found Vector<Single, 100>"),
        ["NaN pixel in the validation set"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.ValidationSet = Keyed(TwoClasses(edit: r => r[0].Features[0] = float.NaN), "a", "b"))),
            typeof(InvalidOperationException), "Feature column 'Features'", "holds NaN at index 0 of row 0", "expected finite pixel values"),
        ["epochs 0"] = Option(o => o.Epochs = 0, "Epochs", "a positive integer", "0"),
        ["negative batch size"] = Option(o => o.BatchSize = -1, "BatchSize", "a positive integer", "-1"),
        ["negative channel penalty"] = Option(o => o.ChannelPenalty = -0.1, "ChannelPenalty", "a finite number >= 0", "-0.1"),
        ["negative rank penalty"] = Option(o => o.RankPenalty = -1, "RankPenalty", "a finite number >= 0", "-1"),
        ["NaN rank penalty"] = Option(o => o.RankPenalty = double.NaN, "RankPenalty", "a finite number >= 0", "NaN"),
        ["negative weight decay"] = Option(o => o.WeightDecay = -1e-4, "WeightDecay", "a finite number >= 0", "-0.0001"),
        ["learning rate 0"] = Option(o => o.LearningRate = 0, "LearningRate", "a positive number", "0"),
        ["negative learning-rate warm-up"] = Option(o => o.LearningRateWarmupSteps = -1, "LearningRateWarmupSteps", "an integer >= 0", "-1"),
        ["prune threshold 1"] = Option(o => o.PruneThreshold = 1, "PruneThreshold", "a fraction in [0, 1)", "1"),
        ["hold fraction 0"] = Option(o => o.PenaltyHoldFraction = 0, "PenaltyHoldFraction", "a fraction in (0, 1]", "0"),
        ["ramp fraction above 1"] = Option(o => o.PenaltyRampFraction = 1.5, "PenaltyRampFraction", "a fraction in [0, 1]", "1.5"),
        ["distillation weight above 1"] = Option(o => o.DistillationWeight = 1.5, "DistillationWeight", "a weight in [0, 1]", "1.5"),
        ["distillation without a ramp"] = Option(o => (o.DistillationWeight, o.PenaltyRampFraction) = (0.5, 0), "DistillationWeight",
            "0 with PenaltyRampFraction = 0 (the teacher is taken while the penalties ramp in)", "0.5"),
        ["distillation temperature 0"] = Option(o => o.DistillationTemperature = 0, "DistillationTemperature", "a positive temperature", "0"),
        ["target MACs ratio 0"] = Option(o => o.TargetMacsRatio = 0, "TargetMacsRatio", "a ratio in (0, 1]", "0"),
        ["target MACs ratio above 1"] = Option(o => o.TargetMacsRatio = 1.5, "TargetMacsRatio", "a ratio in (0, 1]", "1.5"),
        ["target params ratio above 1"] = Option(o => o.TargetParamsRatio = 2, "TargetParamsRatio", "a ratio in (0, 1]", "2"),
        ["custom widths missing"] = Option(o => o.ConvWidths = null, "ConvWidths", "at least one positive conv width", "null"),
        ["conv widths without CustomVgg"] = Option(o => o.Architecture = EdpArchitecture.VggSmall, "ConvWidths",
            "null with Architecture VggSmall (the widths apply to CustomVgg only: set Architecture = EdpArchitecture.CustomVgg)", "4,4"),
        ["ResNet widths on a VGG"] = Option(o => o.ResNetWidths = [8, 8, 16, 32], "ResNetWidths",
            "null with Architecture CustomVgg (the widths apply to ResNet20 and ResNet56 only)", "8,8,16,32"),
        ["batch larger than the data"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.BatchSize = 128)),
            typeof(ArgumentOutOfRangeException), "BatchSize is 128", "training data has only 4 rows", "expected a batch size no larger than the data"),
        ["unwritable ONNX output path"] = new(d =>
        {
            File.WriteAllText(Path.Combine(d, "taken"), "a file where a folder should be");
            using var model = Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.Transforms.CompressEdp(Tiny())).Fit(TwoClasses()).LastTransformer;
            model.SaveOnnx(Path.Combine(d, "taken", "model.onnx"));
        }, typeof(IOException), "Cannot write '", Path.Combine("taken", "model.onnx") + "'", "expected a writable folder", "found a file of that name"),
        ["corrupt ONNX input model"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.OnnxModel = "not an ONNX model at all"u8.ToArray())),
            typeof(EdpOnnxImportException), "ONNX model", "is not a valid ONNX protobuf file"),
        ["truncated ONNX input model"] = new(d =>
        {
            string path = Path.Combine(d, "truncated.onnx");
            var bytes = OnnxTestModels.Vgg13().Bytes;
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            try { FitAndSave(d, TwoClasses(), Tiny(o => o.OnnxModelPath = path)); }
            finally { File.Delete(path); }
        }, typeof(EdpOnnxImportException), "truncated.onnx", "is not a valid ONNX protobuf file"),
        ["unsupported ONNX input model"] = new(d => FitAndSave(d, TwoClasses(), Tiny(o => o.OnnxModel = GroupedConv())),
            typeof(EdpOnnxImportException), "(Conv)", "group 2"),
        ["unwritable checkpoint folder"] = new(d =>
        {
            File.WriteAllText(Path.Combine(d, "taken"), "a file where a folder should be");
            FitAndSave(d, TwoClasses(), Tiny(o => o.CheckpointDirectory = Path.Combine(d, "taken")));
        }, typeof(IOException), "CheckpointDirectory '", "taken' is not usable", "expected a writable folder", "found a file of that name"),
    };

    /// <summary>A valid model whose first conv is grouped, which the importer does not support.</summary>
    private static byte[] GroupedConv()
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(OnnxTestModels.Vgg13().Bytes);
        model.Graph.Node.First(n => n.OpType == "Conv").Attribute.Add(OnnxModelBuilder.Int("group", 2));
        return Google.Protobuf.MessageExtensions.ToByteArray(model);
    }

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BadInputFailsClearlyAndWritesNothing(string name)
    {
        var row = Cases[name];
        var before = Files();
        var e = Assert.Throws(row.Exception, () => row.Run(_dir.FullName));
        foreach (var fragment in row.Message)
            Assert.Contains(fragment, e.Message);
        Assert.Equal(before, Files().Where(f => f != "taken"));
    }

    [Fact]
    public void LabelThatIsNotAKeyIsAlsoRejectedByGetOutputSchema()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.CompressEdp(Tiny()).GetOutputSchema(SchemaShapes.Of(TwoClasses().Schema)));
        Assert.Contains("label column 'Label'", e.Message);
        Assert.Contains("expected a key type", e.Message);
    }

    private string[] Files() => _dir.GetFiles("*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_dir.FullName, f.FullName)).Order().ToArray();
}
