using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The embedded Fashion-MNIST subset (3,000 train, 1,000 test, stratified), read once per test run.</summary>
internal static class TestData
{
    public static readonly string Directory = FashionMnist.SubsetDirectory;
    private static readonly Lazy<IReadOnlyList<FashionMnistImage>> _train = new(() => FashionMnist.Load(Directory, "train"));
    private static readonly Lazy<IReadOnlyList<FashionMnistImage>> _test = new(() => FashionMnist.Load(Directory, "t10k"));

    public static IReadOnlyList<FashionMnistImage> Train => _train.Value;
    public static IReadOnlyList<FashionMnistImage> Test => _test.Value;

    /// <summary>Class index of a label under MapValueToKey fitted on <see cref="Train"/>: keys follow first occurrence.</summary>
    public static long KeyIndex(string label) => _keyOrder.Value.IndexOf(label);

    private static readonly Lazy<List<string>> _keyOrder = new(() => Train.Select(i => i.Label).Distinct().ToList());
}
