using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Each of the common CNN families (<see cref="OnnxFamilyModels"/>), with its BatchNorms as nodes and folded
/// into the convs, imports whole and computes what ONNX Runtime computes on the file, as compressed-aware blocks; and
/// the import, through Pruning &amp; Merging with nothing removed, exports a model that does too.</summary>
public class OnnxFamilyImportTests(ITestOutputHelper output)
{
    private const int Images = 4;

    /// <summary>Conv layers in torchvision's models: what the import must keep, so that none is dropped or merged away.</summary>
    private static readonly Dictionary<string, int> Convs = new()
    {
        ["resnet50"] = 53, ["mobilenet_v2"] = 52, ["mobilenet_v3_small"] = 52, ["shufflenet_v2_x0_5"] = 56, ["efficientnet_b0"] = 81,
        ["densenet121"] = 120, ["squeezenet1_1"] = 26, ["googlenet"] = 57, ["regnet_x_400mf"] = 71,
    };

    /// <summary>Every family at torchvision's widths but ResNet-50, at half its widths: its 25 million weights took 15
    /// to 30 s to import and decompose on 2 shared cores, longer than all the others together.</summary>
    private static double Width(string name) => name == "resnet50" ? 0.5 : 1;

    /// <summary>Every family with BN nodes, and with BN folded where it has any (SqueezeNet has none).</summary>
    public static TheoryData<string, bool> Families()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in OnnxFamilyModels.Names)
        {
            data.Add(name, false);
            if (name != "squeezenet1_1")
                data.Add(name, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void FamilyImportsEqualToOnnxRuntimeAndExportsBack(string name, bool foldBatchNorm)
    {
        var model = OnnxFamilyModels.Build(name, foldBatchNorm, Width(name));
        const int side = OnnxFamilyModels.Side;
        int[] dims = [Images, OnnxFamilyModels.Channels, side, side];
        var pixels = TestData.Test.Take(Images).SelectMany(i => i.ToRgb(side)).ToArray();
        var expected = OnnxImportPatternTests.OnnxRuntimeLogits(model.Bytes, model.Logits, OnnxModelBuilder.Input, pixels, dims);

        var net = OnnxGraphImporter.Import(model.Bytes, model.Name, (OnnxFamilyModels.Channels, side, side));
        Assert.Equal(Convs[name], net.Layers.OfType<ConvLayer>().Count());
        Assert.Equal([(long)OnnxFamilyModels.Classes], net.OutputShape);
        // The file's own output, every conv but the grouped ones a compressed-aware block, as a fit starts from.
        var graph = new NetworkGraph(net.InChannels, net.Height, net.Width,
            net.Layers.Select(l => l is ConvLayer c ? c with { Compressed = c.Groups == 1 } : l is LinearLayer f ? f with { Compressed = true } : l).ToList(),
            net.Output, OnnxFamilyModels.Classes);
        OnnxImportPatternTests.TrustConvolutions(graph, Images, output.WriteLine);
        // Every residual sum of these families adds conv outputs (after BN) or other sums: each joins a stream whose
        // channels may be removed.
        var streamed = ChannelCoupling.Analyse(graph).Where(c => c.Stream is not null).SelectMany(c => c.Stream!.Sums).ToHashSet();
        Assert.All(graph.Layers.OfType<AddLayer>(), sum => Assert.Contains(sum.Name, streamed));

        using var scope = NewDisposeScope();
        using var edp = new EdpNet(graph);
        edp.eval();
        using var _ = no_grad();
        var actual = edp.forward(tensor(pixels, [.. dims.Select(d => (long)d)])).data<float>().ToArray();
        var exported = OnnxModelWriter.Write(PruneAndMerge.Apply(edp, PruningPlanner.Plan(edp, new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm))),
            new Dictionary<string, string>());
        var again = OnnxImportPatternTests.OnnxRuntimeLogits(exported, OnnxNames.Logits, OnnxNames.Input, pixels, dims);

        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max(), export = expected.Zip(again, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{model.Name}: {net.Layers.Count} layers; max |logit difference| {worst:E2} imported, {export:E2} exported again (largest |logit| {expected.Max(Math.Abs):F2}).");
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.Length, again.Length);
        Assert.InRange(worst, 0, 1e-4);
        Assert.InRange(export, 0, 1e-4);
        Assert.True(expected.Distinct().Count() > Images);
    }
}
