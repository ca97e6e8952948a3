namespace Microsoft.ML.Edp.Network;

/// <summary>The built-in network families as <see cref="NetworkGraph"/>s.</summary>
internal static class Architectures
{
    public const string ClassifierName = "classifier";

    public static readonly int[] VggSmallWidths = [16, 16, 32, 32, 64, 64];
    public static readonly int[] VggMediumWidths = [32, 32, 64, 64, 128, 128];
    public static readonly int[] ResNetWidths = [16, 32, 64];

    public static NetworkGraph Build(NetworkSettings network, int classes) => network.Architecture switch
    {
        EdpArchitecture.VggSmall => Vgg(VggSmallWidths, network, classes),
        EdpArchitecture.VggMedium => Vgg(VggMediumWidths, network, classes),
        EdpArchitecture.CustomVgg => Vgg(network.ConvWidths is { Length: > 0 } w ? w
            : throw new ArgumentException($"{nameof(EdpCompressOptions.ConvWidths)} must list at least one conv width for {EdpArchitecture.CustomVgg}.", nameof(network)), network, classes),
        EdpArchitecture.ResNet20 => ResNet(3, network, classes),
        EdpArchitecture.ResNet56 => ResNet(9, network, classes),
        _ => throw new ArgumentOutOfRangeException(nameof(network), $"Unknown architecture {network.Architecture}."),
    };

    /// <summary>3x3 conv + BN + ReLU layers in pairs, a 2x2 max pool after each pair but the last, global average
    /// pooling and a linear classifier.</summary>
    public static NetworkGraph Vgg(IReadOnlyList<int> widths, NetworkSettings network, int classes)
    {
        var b = new Builder(network);
        string x = NetworkGraph.InputName;
        int inChannels = network.Shape.Channels, lastPair = (widths.Count - 1) / 2;
        for (int i = 0; i < widths.Count; i++)
        {
            string name = $"conv{i + 1}";
            x = b.ConvBnRelu(name, x, inChannels, widths[i], 3, 1, first: i == 0);
            if (i % 2 == 1 && i / 2 < lastPair)
                x = b.Add(new PoolLayer($"{name}_pool", x, IsMax: true, 2, 2));
            inChannels = widths[i];
        }
        return b.Head(x, inChannels, classes);
    }

    /// <summary>The CIFAR-style ResNet (He et al. 2016): a 3x3 stem, three stages of <paramref name="blocksPerStage"/>
    /// basic blocks (stride 2 from the second stage on, with a 1x1 conv + BN projection where the shape changes),
    /// global average pooling and a linear classifier. ResNet-20 has 3 blocks a stage, ResNet-56 has 9.</summary>
    public static NetworkGraph ResNet(int blocksPerStage, NetworkSettings network, int classes)
    {
        int[] widths = network.ResNetWidths is { Length: 4 } w ? w : [ResNetWidths[0], .. ResNetWidths];
        var b = new Builder(network);
        string x = b.ConvBnRelu("stem", NetworkGraph.InputName, network.Shape.Channels, widths[0], 3, 1, first: true);
        int inChannels = widths[0];
        for (int stage = 1; stage <= 3; stage++)
        {
            for (int block = 1; block <= blocksPerStage; block++)
            {
                string name = $"s{stage}b{block}";
                int stride = stage > 1 && block == 1 ? 2 : 1, width = widths[stage];
                string h = b.ConvBnRelu($"{name}_conv1", x, inChannels, width, 3, stride);
                h = b.ConvBn($"{name}_conv2", h, width, width, 3, 1);
                string shortcut = stride == 1 && inChannels == width ? x : b.ConvBn($"{name}_shortcut", x, inChannels, width, 1, stride);
                x = b.Add(new ReluLayer($"{name}_relu", b.Add(new AddLayer($"{name}_add", h, shortcut))));
                inChannels = width;
            }
        }
        return b.Head(x, inChannels, classes);
    }

    private sealed class Builder(NetworkSettings network)
    {
        private readonly List<LayerNode> _layers = new();

        public string Add(LayerNode layer)
        {
            _layers.Add(layer);
            return layer.Name;
        }

        public string ConvBn(string name, string x, int inChannels, int outChannels, int kernel, int stride, bool first = false)
        {
            bool compressed = network.Compress && !(network.ExcludeFirstAndLast && first);
            Add(new ConvLayer(name, x, inChannels, outChannels, kernel, stride, kernel / 2, compressed));
            return Add(new BatchNormLayer($"{name}_bn", name, outChannels));
        }

        public string ConvBnRelu(string name, string x, int inChannels, int outChannels, int kernel, int stride, bool first = false)
            => Add(new ReluLayer($"{name}_relu", ConvBn(name, x, inChannels, outChannels, kernel, stride, first)));

        public NetworkGraph Head(string x, int channels, int classes)
        {
            x = Add(new GlobalPoolLayer("global_pool", x));
            Add(new LinearLayer(ClassifierName, x, channels, classes, network.Compress && !network.ExcludeFirstAndLast));
            return new NetworkGraph(network.Shape.Channels, network.Shape.Height, network.Shape.Width, _layers, ClassifierName, classes);
        }
    }
}
