using Microsoft.ML.Data;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Bad input fails before any training, with a message that names the column, what was expected and what was found.</summary>
public class BadInputTests
{
    private sealed class ShortRow
    {
        [VectorType(100)] public float[] Features { get; set; } = new float[100];
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

    private static readonly MLContext Ml = new(1);

    private static IEstimator<ITransformer> Pipeline(EdpCompressOptions? options = null)
        => Ml.Transforms.Conversion.MapValueToKey("Label").Append(Ml.Transforms.CompressEdp(options ?? new EdpCompressOptions { Epochs = 1 }));

    private sealed class LabelOnly
    {
        public string Label { get; set; } = "";
    }

    private static IDataView Classes(params string[] names) => Ml.Data.LoadFromEnumerable(names.Select(n => new LabelOnly { Label = n }));

    private static IDataView TwoClasses(int rows = 4, Action<Row[]>? edit = null)
    {
        var data = Enumerable.Range(0, rows).Select(i => new Row { Label = i % 2 == 0 ? "a" : "b" }).ToArray();
        edit?.Invoke(data);
        return Ml.Data.LoadFromEnumerable(data);
    }

    [Fact]
    public void WrongFeatureLengthNamesColumnExpectedAndFound()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline().Fit(Ml.Data.LoadFromEnumerable(new[] { new ShortRow(), new ShortRow { Label = "b" } })));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("784 values (1x28x28", e.Message);
        Assert.Contains("Vector<Single, 100>", e.Message);
    }

    [Fact]
    public void FeaturesThatAreNotFloatAreRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline().Fit(Ml.Data.LoadFromEnumerable(new[] { new DoubleRow(), new DoubleRow { Label = "b" } })));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("found Vector<Double>", e.Message);
    }

    [Fact]
    public void LabelThatIsNotAKeyIsRejectedInFitAndInGetOutputSchema()
    {
        var estimator = Ml.Transforms.CompressEdp(new EdpCompressOptions());
        var data = TwoClasses();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        Assert.Contains("label column 'Label'", e.Message);
        Assert.Contains("key type", e.Message);
        Assert.Contains("String", e.Message);
        var shape = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(SchemaShapes.Of(data.Schema)));
        Assert.Contains("'Label'", shape.Message);
    }

    [Fact]
    public void MissingColumnIsNamed()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(new EdpCompressOptions { FeatureColumnName = "Pixels" }).Fit(TwoClasses()));
        Assert.Contains("no feature column 'Pixels'", e.Message);
    }

    [Fact]
    public void EmptyDataViewIsRejected()
    {
        var empty = Ml.Data.LoadFromEnumerable(Array.Empty<Row>());
        var keyed = Ml.Transforms.Conversion.MapValueToKey("Label", keyData: Classes("a", "b")).Fit(empty).Transform(empty);
        var e = Assert.Throws<InvalidOperationException>(() => Ml.Transforms.CompressEdp(new EdpCompressOptions { Epochs = 1 }).Fit(keyed));
        Assert.Contains("empty", e.Message);
        Assert.Contains("0 rows", e.Message);
    }

    [Fact]
    public void SingleClassIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline().Fit(Ml.Data.LoadFromEnumerable(new[] { new Row(), new Row() })));
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("at least 2 classes", e.Message);
        Assert.Contains("1 class", e.Message);
    }

    [Fact]
    public void OnlyOneClassPresentIsRejected()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new Row(), new Row() });
        var keyed = Ml.Transforms.Conversion.MapValueToKey("Label", keyData: Classes("a", "b")).Fit(data).Transform(data);
        var e = Assert.Throws<InvalidOperationException>(() => Ml.Transforms.CompressEdp(new EdpCompressOptions { Epochs = 1, BatchSize = 1 }).Fit(keyed));
        Assert.Contains("1 distinct class", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFinitePixelsNameRowAndIndex(float bad)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Pipeline(new EdpCompressOptions { Epochs = 1, BatchSize = 2 }).Fit(TwoClasses(edit: d => d[3].Features[17] = bad)));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains($"{bad} at index 17 of row 3", e.Message);
    }

    [Fact]
    public void BatchLargerThanTheDataIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(new EdpCompressOptions { Epochs = 1, BatchSize = 128 }).Fit(TwoClasses()));
        Assert.Contains("BatchSize is 128", e.Message);
        Assert.Contains("only 4 rows", e.Message);
    }

    [Fact]
    public void ValidationSetWithAnotherSchemaIsRejected()
    {
        var validation = Ml.Data.LoadFromEnumerable(new[] { new ShortRow() });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(new EdpCompressOptions { Epochs = 1, BatchSize = 2, ValidationSet = validation }).Fit(TwoClasses()));
        Assert.Contains("validation data", e.Message);
        Assert.Contains("'Features'", e.Message);
    }

    public static TheoryData<Action<EdpCompressOptions>, string> OutOfRange => new()
    {
        { o => o.Epochs = 0, "Epochs must be a positive integer; found 0" },
        { o => o.BatchSize = -1, "BatchSize must be a positive integer; found -1" },
        { o => o.ChannelPenalty = -0.1, "ChannelPenalty must be a finite number >= 0; found -0.1" },
        { o => o.RankPenalty = double.NaN, "RankPenalty must be a finite number >= 0; found NaN" },
        { o => o.LearningRate = 0, "LearningRate must be a positive number; found 0" },
        { o => o.PruneThreshold = 1, "PruneThreshold must be a fraction in [0, 1); found 1" },
        { o => o.PenaltyHoldFraction = 0, "PenaltyHoldFraction must be a fraction in (0, 1]; found 0" },
        { o => { o.Architecture = EdpArchitecture.CustomVgg; o.ConvWidths = null; }, "ConvWidths must be at least one positive conv width; found null" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void OptionsOutOfRangeAreRejectedWhenTheEstimatorIsCreated(Action<EdpCompressOptions> edit, string message)
    {
        var options = new EdpCompressOptions();
        edit(options);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.CompressEdp(options));
        Assert.Contains(message, e.Message);
    }
}
