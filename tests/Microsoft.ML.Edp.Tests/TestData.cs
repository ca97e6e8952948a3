using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The embedded Fashion-MNIST subset (3,000 train, 1,000 test, stratified), read once per test run.</summary>
internal static class TestData
{
    public static readonly string Directory = FashionMnist.SubsetDirectory;
    private static readonly Lazy<IReadOnlyList<FashionMnistImage>> _train = new(() => FashionMnist.Load(Directory, "train"));
    private static readonly Lazy<IReadOnlyList<FashionMnistImage>> _test = new(() => FashionMnist.Load(Directory, "t10k"));

    /// <summary>The subset's image shape.</summary>
    public static readonly InputImageShape Shape = new(1, 28, 28);

    /// <summary>The settings of <paramref name="options"/> for tests that build a network without data: the options'
    /// image shape where they give one, else the subset's.</summary>
    public static EdpSettings Settings(EdpCompressOptions options)
        => EdpSettings.From(options) is var settings && settings.Network.Image is null ? settings.WithImage(Shape) : settings;

    public static IReadOnlyList<FashionMnistImage> Train => _train.Value;
    public static IReadOnlyList<FashionMnistImage> Test => _test.Value;

    /// <summary>Class index of a label under MapValueToKey fitted on <see cref="Train"/>: keys follow first occurrence.</summary>
    public static long KeyIndex(string label) => _keyOrder.Value.IndexOf(label);

    private static readonly Lazy<List<string>> _keyOrder = new(() => Train.Select(i => i.Label).Distinct().ToList());
}
