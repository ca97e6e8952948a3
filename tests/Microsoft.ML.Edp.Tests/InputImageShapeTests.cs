using Microsoft.ML.Edp.Data;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The image shape is taken from the options where given and inferred from the feature column's size only
/// where exactly one shape fits.</summary>
public class InputImageShapeTests
{
    [Theory]
    [InlineData(784, null, null, null, "1x28x28")]    // grayscale square
    [InlineData(3072, null, null, null, "3x32x32")]   // RGB square
    [InlineData(768, 3, null, null, "3x16x16")]       // channels given, square
    [InlineData(768, 1, 16, null, "1x16x48")]         // height given, width follows
    [InlineData(560, null, null, 20, "1x28x20")]      // width given; 560 is no multiple of 3, so one channel
    [InlineData(100, 4, 5, 5, "4x5x5")]               // all given: taken as they are
    public void ShapeIsGivenOrTheOnlyOneThatFits(int size, int? channels, int? height, int? width, string expected)
    {
        var options = new EdpCompressOptions { ImageChannels = channels, ImageHeight = height, ImageWidth = width };
        Assert.Equal(expected, InputImageShape.Resolve(options, size).ToString());
    }

    [Theory]
    [InlineData(600, null, null, 20, "it fits 1x30x20 and 3x10x20 alike")]
    [InlineData(1000, null, null, null, "no square image of 1 or 3 channels has that many")]
    [InlineData(784, 3, null, null, "no square image of 1 or 3 channels has that many")]
    public void SizesThatFitNoShapeOrSeveralAreRefused(int size, int? channels, int? height, int? width, string found)
    {
        var options = new EdpCompressOptions { ImageChannels = channels, ImageHeight = height, ImageWidth = width };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => InputImageShape.Resolve(options, size));
        Assert.Contains($"found {size} values, and {found}", e.Message);
    }
}
