using System.IO.Compression;
using Microsoft.ML.Edp.Samples;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

public class IdxReaderTests
{
    [Fact]
    public void EmbeddedSubsetHasStratifiedCountsAndUnitPixels()
    {
        Assert.Equal(3000, TestData.Train.Count);
        Assert.Equal(1000, TestData.Test.Count);
        foreach (var (set, perClass) in new[] { (TestData.Train, 300), (TestData.Test, 100) })
        {
            var counts = set.GroupBy(i => i.Label).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(FashionMnist.ClassNames.OrderBy(n => n), counts.Keys.OrderBy(n => n));
            Assert.All(counts.Values, c => Assert.Equal(perClass, c));
            Assert.All(set, i => Assert.Equal(FashionMnistImage.PixelCount, i.Features.Length));
            var pixels = set.SelectMany(i => i.Features).ToArray();
            Assert.Equal(0f, pixels.Min());
            Assert.Equal(1f, pixels.Max());
        }
    }

    [Fact]
    public void ReadsDimensionsAndPayload()
    {
        var (dims, data) = IdxReader.Read(Path.Combine(TestData.Directory, "t10k-images-idx3-ubyte.gz"));
        Assert.Equal([1000, 28, 28], dims);
        Assert.Equal(1000 * 28 * 28, data.Length);
    }

    [Fact]
    public void TruncatedFileIsRejectedWithItsPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"truncated-{Guid.NewGuid():N}-idx1-ubyte.gz");
        try
        {
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
                gz.Write([0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3]);
            var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("truncated", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        var path = Path.Combine(Path.GetTempPath(), $"magic-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(path, [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
            var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
            Assert.Contains("00000D01", e.Message);
        }
        finally { File.Delete(path); }
    }
}
