using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Import;

/// <summary>Fits an imported network to the user's classes and says which layers become compressed-aware blocks.</summary>
internal static class ImportedHead
{
    /// <summary>The network graph for <paramref name="classes"/> classes. A model that ends in a linear layer keeps it
    /// when its output count is the class count and gets a fresh one of the same input width otherwise; a model that
    /// ends in anything else ends in features, and gets a new linear classifier on them (after a global average pool
    /// when they are a [C, H, W] map). New layers start untrained. With <paramref name="compress"/> every conv and
    /// linear layer is compressed, except grouped convs, and the first conv and the classifier when
    /// <paramref name="excludeFirstAndLast"/> is set; without it all are plain layers (the baseline).</summary>
    public static NetworkGraph Fit(ImportedNetwork net, int classes, bool compress, bool excludeFirstAndLast)
    {
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"A classifier needs at least 2 classes; found {classes}.");
        var layers = net.Layers.ToList();
        var names = new LayerNames();
        foreach (var l in layers)
            names.Reserve(l.Name);

        string output = net.Output;
        int at = layers.FindIndex(l => l.Name == output);
        if (at >= 0 && layers[at] is LinearLayer last)
        {
            if (last.OutFeatures != classes)
                layers[at] = new LinearLayer(last.Name, last.Input, last.InFeatures, classes, Compressed: true);
        }
        else
        {
            var features = output;
            if (net.OutputShape.Length == 3)
            {
                var pool = new GlobalPoolLayer(names.Unique("head_pool"), output);
                layers.Add(pool);
                features = pool.Name;
            }
            var head = new LinearLayer(names.Unique("head_classifier"), features, (int)net.OutputShape[0], classes, Compressed: true);
            layers.Add(head);
            output = head.Name;
        }

        var firstConv = layers.OfType<ConvLayer>().FirstOrDefault()?.Name;
        layers = layers.Select(l => l switch
        {
            ConvLayer c => c with { Compressed = compress && c.Groups == 1 && !(excludeFirstAndLast && c.Name == firstConv) },
            LinearLayer f => f with { Compressed = compress && !(excludeFirstAndLast && f.Name == output) },
            _ => l,
        }).ToList();

        var graph = new NetworkGraph(net.InChannels, net.Height, net.Width, layers, output, classes);
        try
        {
            graph.Shapes();
        }
        catch (InvalidOperationException e)
        {
            // The importer checks every node's shapes itself, so this is a bug in it, reported against the model.
            throw new EdpOnnxImportException($"ONNX model {net.Model}: the imported network is inconsistent: {e.Message}", innerException: e);
        }
        return graph;
    }
}
