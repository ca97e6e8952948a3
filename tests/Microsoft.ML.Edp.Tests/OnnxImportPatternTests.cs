using Microsoft.ML.Edp.Backend;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Groups;
using Microsoft.ML.Edp.Import;
using Microsoft.ML.Edp.Network;
using Microsoft.ML.Edp.Pruning;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Each pattern model (<see cref="OnnxPatternModels"/>) imports equal to ONNX Runtime at opsets 11 to 17, and
/// survives pruning: with half the channels of every prunable layer and some basis filters zeroed, Pruning &amp; Merging
/// at threshold 0 keeps the outputs exactly, the exported ONNX model computes them too, and it imports back.</summary>
public class OnnxImportPatternTests(ITestOutputHelper output)
{
    private const int Images = 32;

    public static TheoryData<string, long> PatternsAndOpsets()
    {
        var data = new TheoryData<string, long>();
        foreach (var name in OnnxPatternModels.Names)
            for (long opset = 11; opset <= 17; opset++)
                data.Add(name, opset);
        return data;
    }

    public static TheoryData<string> Patterns => new(OnnxPatternModels.Names);

    private static float[] Pixels => TestData.Test.Take(Images).SelectMany(i => i.Features).ToArray();

    [Theory]
    [MemberData(nameof(PatternsAndOpsets))]
    public void PatternImportsEqualToOnnxRuntime(string name, long opset)
    {
        var model = OnnxPatternModels.Build(name, opset);
        var expected = OnnxRuntimeLogits(model.Bytes, model.Logits, OnnxModelBuilder.Input, Pixels, [Images, 1, 28, 28]);
        using var scope = NewDisposeScope();
        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        TrustConvolutions(graph, Images, output.WriteLine);
        using var net = new EdpNet(graph);
        net.eval();
        using var _ = no_grad();
        var actual = net.forward(tensor(Pixels, [Images, 1, 28, 28])).data<float>().ToArray();

        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{model.Name}: max |logit difference| {worst:E2} (largest |logit| {expected.Max(Math.Abs):F2}).");
        Assert.Equal(expected.Length, actual.Length);
        Assert.InRange(worst, 0, 1e-4);
        Assert.True(expected.Distinct().Count() > Images);
    }

    /// <summary>Every pattern, its layers as compressed-aware blocks and as plain layers with channel groups
    /// (<see cref="EdpCompressOptions.Decompose"/> false).</summary>
    public static TheoryData<string, bool> PatternsBothForms()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in OnnxPatternModels.Names)
        {
            data.Add(name, true);
            data.Add(name, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PatternsBothForms))]
    public void PrunedPatternKeepsItsOutputsExactlyAndExportsThem(string name, bool decompose)
    {
        var graph = Imported(name).Decomposed(decompose);
        using var scope = NewDisposeScope();
        using var net = new EdpNet(graph);
        net.eval();

        // Drop every other unit of channels of each layer that may lose channels (a channel, or the channels a grouped
        // conv ties), and the last basis filter of every layer.
        var prunable = ChannelCoupling.Analyse(graph).Where(c => c.Prunable).Select(c => c.Layer.Name).ToHashSet();
        var units = LayerGroups.Of(net).Where(g => g.HasChannelGroups).ToDictionary(g => g.Name, g => g.Units);
        var plans = ZeroedAndReplanned(net, p => units.TryGetValue(p.Name, out var u) ? p.KeptOutputs.Where(c => u.UnitOf[c] % 2 == 0).ToArray() : p.KeptOutputs,
            p => p.KeptRank is { } rank ? rank[..^1] : null);
        var (surgery, export, expected) = PruneAndCompare(net, plans, $"{name}: prunable {string.Join(", ", prunable)}");

        Assert.True(plans.Sum(p => p.After.Macs) < plans.Sum(p => p.Before.Macs), "zeroed groups must be removed");
        // Channels are pruned through the coupled patterns: producers of a Concat at their offsets, a squeeze-excitation
        // block with its excitation conv following it, a depthwise conv or one whose groups read and write as many
        // channels with its input, a Split, Slice or shuffle at the places it puts them, and into another grouped conv
        // at the same places in each group.
        var narrowed = plans.Where(p => p.KeptOutputs.Length < p.OriginalShape[0]).Select(p => p.Name).ToList();
        var narrowedInputs = plans.Where(p => p.KeptInputs.Length < p.OriginalShape[1]).Select(p => p.Name).ToList();
        Assert.All(ExpectedNarrowed.GetValueOrDefault(name, []), layer => Assert.Contains(layer, narrowed));
        Assert.All(ExpectedNarrowedInputs.GetValueOrDefault(name, []), layer => Assert.Contains(layer, narrowedInputs));
        Assert.InRange(surgery, 0, 1e-4);
        Assert.InRange(export, 0, 1e-4);
        Assert.True(expected.Distinct().Count() > Images);
    }

    /// <summary>A Split part whose channels all went to zero still keeps one, so the layer reading it reads something,
    /// and the outputs stay exact.</summary>
    [Fact]
    public void ASplitPartWithEveryChannelZeroKeepsOne()
    {
        using var scope = NewDisposeScope();
        using var net = new EdpNet(Imported("split"));
        net.eval();
        // The Split gives the first 6 of the conv's 16 channels to one conv and the other 10 to a depthwise conv.
        var plans = ZeroedAndReplanned(net, p => p.Name == "features_0_Conv" ? p.KeptOutputs[6..] : p.KeptOutputs, p => p.KeptRank);
        var (surgery, export, _) = PruneAndCompare(net, plans, "split with its first part zero");

        Assert.Equal([0L, .. Enumerable.Range(6, 10).Select(c => (long)c)], plans.Single(p => p.Name == "features_0_Conv").KeptOutputs);
        Assert.Equal([0L], plans.Single(p => p.Name == "features_3_Conv").KeptInputs);
        Assert.InRange(surgery, 0, 1e-4);
        Assert.InRange(export, 0, 1e-4);
    }

    private NetworkGraph Imported(string name)
    {
        var model = OnnxPatternModels.Build(name, 13);
        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        TrustConvolutions(graph, Images, output.WriteLine);
        return graph;
    }

    /// <summary>Zeroes every group but the outputs and ranks chosen from the full plan, then plans at threshold 0.</summary>
    private static IReadOnlyList<LayerPlan> ZeroedAndReplanned(EdpNet net, Func<LayerPlan, long[]> outputs, Func<LayerPlan, long[]?> rank)
    {
        var atZero = new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm);
        var chosen = PruningPlanner.Plan(net, atZero).ToDictionary(p => p.Name, p => new KeptGroups(outputs(p), rank(p)));
        GroupZeroing.Apply(net, PruningPlanner.Plan(net, atZero, chosen));
        return PruningPlanner.Plan(net, atZero);
    }

    /// <summary>Prunes and merges by <paramref name="plans"/>: the largest logit difference from the trained network and
    /// between ONNX Runtime on the export and the TorchSharp reference, and the trained network's logits. Checks that
    /// the exported layers have the planned widths, and that the export imports back (to be compressed further) equal
    /// to ONNX Runtime on it.</summary>
    private (double Surgery, double Export, float[] Expected) PruneAndCompare(EdpNet net, IReadOnlyList<LayerPlan> plans, string what)
    {
        var inference = PruneAndMerge.Apply(net, plans);
        var exported = OnnxModelWriter.Write(inference, new Dictionary<string, string>());
        var back = OnnxGraphImporter.Import(exported, $"{what}, exported", (1, 28, 28));
        var backGraph = new NetworkGraph(1, 28, 28, back.Layers.Select(l => l is WeightLayer w ? w with { Compressed = false } : l).ToList(), back.Output, 10);
        TrustConvolutions(backGraph, Images, output.WriteLine);
        using var again = new EdpNet(backGraph);
        again.eval();
        var images = tensor(Pixels, [Images, 1, 28, 28]);
        using var _ = no_grad();
        var expected = net.forward(images).data<float>().ToArray();
        var pruned = ReferenceRunner.Logits(inference, images).data<float>().ToArray();
        var ort = OnnxRuntimeLogits(exported, OnnxNames.Logits, OnnxNames.Input, Pixels, [Images, 1, 28, 28]);
        var reread = again.forward(images).data<float>().ToArray();
        double surgery = expected.Zip(pruned, (e, a) => Math.Abs(e - a)).Max(), export = ort.Zip(pruned, (e, a) => Math.Abs(e - a)).Max(),
            reimport = ort.Zip(reread, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"{what}; MACs {plans.Sum(p => p.Before.Macs):N0} -> {plans.Sum(p => p.After.Macs):N0}; max |trained - pruned| {surgery:E2}, max |ONNX Runtime - TorchSharp| {export:E2}, imported back {reimport:E2}.");
        Assert.InRange(reimport, 0, 1e-4);
        foreach (var p in plans)
            output.WriteLine($"  {p.Name}: {p.KeptInputs.Length} of {p.OriginalShape[1]} inputs, {p.KeptOutputs.Length} of {p.OriginalShape[0]} outputs");
        // A kept pair is written as its basis and coefficients; the last of them carries the layer's outputs.
        var written = inference.Layers.OfType<WeightLayer>().ToDictionary(l => l.Name);
        foreach (var p in plans)
        {
            var last = written.GetValueOrDefault(p.Name) ?? written[$"{p.Name}_coefficients"];
            Assert.Equal(p.KeptOutputs.Length, last.Outputs);
            if (written.TryGetValue(p.Name, out var one) && one is ConvLayer { Groups: > 1 })
                Assert.Equal(p.KeptInputs.Length, one.WeightShape[1]);
        }
        return (surgery, export, expected);
    }

    private static readonly Dictionary<string, string[]> ExpectedNarrowed = new()
    {
        ["dense-concat"] = ["features_0_Conv", "features_3_Conv"],
        // The bottleneck conv after a BN on a Concat; the Concat's producers keep their channels.
        ["pre-activation"] = ["features_6_Conv"],
        ["fire-concat"] = ["features_6_Conv", "features_8_Conv"],
        ["squeeze-excitation"] = ["features_3_Conv", "se_fc2"],
        ["reduce-mean-excitation"] = ["features_3_Conv", "se_fc2"],
        ["depthwise"] = ["features_3_Conv", "features_6_Conv"],
        ["concat-depthwise"] = ["features_3_Conv", "features_6_Conv", "features_9_Conv"],
        ["grouped-conv"] = ["features_0_Conv"],
        ["grouped-block"] = ["features_3_Conv", "features_6_Conv"],
        ["channel-shuffle"] = ["features_0_Conv", "features_3_Conv", "features_6_Conv", "features_8_Conv"],
        ["slice"] = ["features_0_Conv"],
        ["split"] = ["features_0_Conv", "features_3_Conv", "features_6_Conv"],
        // Every producer of each residual stream and every conv reading it: the stem with the identity block's second
        // conv, and the projection shortcut with the second conv of its block and the linear bottleneck's projection.
        ["residual"] = ["features_0_Conv", "block1_conv1_Conv", "block1_conv2_Conv", "block2_conv1_Conv", "block2_conv2_Conv",
            "block2_shortcut_Conv", "block3_expand_Conv", "block3_project_Conv"],
    };

    /// <summary>Layers that read fewer channels after pruning beyond those a narrowed producer feeds alone: grouped convs
    /// whose groups read fewer, their outputs kept, and every reader of a residual stream.</summary>
    private static readonly Dictionary<string, string[]> ExpectedNarrowedInputs = new()
    {
        ["grouped-conv"] = ["features_3_Conv"],
        ["residual"] = ["block1_conv1_Conv", "block2_conv1_Conv", "block2_shortcut_Conv", "block3_expand_Conv", "head_fc"],
    };

    /// <summary>Runs the backend self-check a fit runs on the graph's convolutions, so that TorchSharp's side is computed
    /// by a backend that computes them right on this machine (libtorch's oneDNN got some of these shapes wrong on an
    /// AMD EPYC; the check switches it off for the process then).</summary>
    internal static void TrustConvolutions(NetworkGraph graph, int images, Action<string> warning)
        => BackendCheck.ForThisProcess(get_num_threads()).Ensure(ProbeShape.Of(graph, [images]), CPU, _ => { }, warning);

    /// <summary>Logits from ONNX Runtime for images laid out as <paramref name="dims"/>, with the value added as an
    /// output where it is not one.</summary>
    internal static float[] OnnxRuntimeLogits(byte[] model, string logits, string input, float[] pixels, int[] dims)
    {
        using var session = new InferenceSession(OnnxModelBuilder.WithOutput(model, logits));
        var image = new OnnxRuntime.Tensors.DenseTensor<float>(pixels, dims);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, image)], [logits]);
        return results.First().AsEnumerable<float>().ToArray();
    }
}
