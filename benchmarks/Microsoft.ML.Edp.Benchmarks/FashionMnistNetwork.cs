using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Samples;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>The network the benchmarks build directly, without a fit: the options' architecture on Fashion-MNIST's
/// 1x28x28 images with its 10 classes.</summary>
internal static class FashionMnistNetwork
{
    public static readonly InputImageShape Image = new(1, 28, 28);

    public static NetworkGraph Build(EdpCompressOptions options)
        => Architectures.Build(EdpSettings.From(options).WithImage(Image).Network, FashionMnist.ClassNames.Count);
}
