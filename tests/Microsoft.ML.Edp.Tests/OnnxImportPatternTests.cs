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
/// at threshold 0 keeps the outputs exactly, and the exported ONNX model computes them too.</summary>
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
        var expected = OnnxRuntimeLogits(model.Bytes, model.Logits, OnnxModelBuilder.Input);
        using var scope = NewDisposeScope();
        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        TrustConvolutions(graph);
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

    [Theory]
    [MemberData(nameof(Patterns))]
    public void PrunedPatternKeepsItsOutputsExactlyAndExportsThem(string name)
    {
        var model = OnnxPatternModels.Build(name, 13);
        var graph = ImportedHead.Fit(OnnxGraphImporter.Import(model.Bytes, model.Name, (1, 28, 28)), 10, compress: true, excludeFirstAndLast: false);
        TrustConvolutions(graph);
        using var scope = NewDisposeScope();
        using var net = new EdpNet(graph);
        net.eval();
        var images = tensor(Pixels, [Images, 1, 28, 28]);

        // Drop every other channel of each layer that may lose channels, and the last basis filter of every layer.
        var prunable = ChannelCoupling.Analyse(graph).Where(c => c.Prunable).Select(c => c.Layer.Name).ToHashSet();
        var atZero = new PruningSettings(0, EdpChannelGroup.CoefficientsAndBatchNorm);
        var full = PruningPlanner.Plan(net, atZero);
        var chosen = full.ToDictionary(p => p.Name, p => new KeptGroups(prunable.Contains(p.Name) ? p.KeptOutputs.Where(c => c % 2 == 0).ToArray() : p.KeptOutputs,
            p.KeptRank is { } rank ? rank[..^1] : null));
        GroupZeroing.Apply(net, PruningPlanner.Plan(net, atZero, chosen));
        var plans = PruningPlanner.Plan(net, atZero);
        var inference = PruneAndMerge.Apply(net, plans);

        using var _ = no_grad();
        var expected = net.forward(images).data<float>().ToArray();
        var pruned = ReferenceRunner.Logits(inference, images).data<float>().ToArray();
        var exported = OnnxModelWriter.Write(inference, new Dictionary<string, string>());
        var ort = OnnxRuntimeLogits(exported, OnnxNames.Logits, OnnxNames.Input);
        double surgery = expected.Zip(pruned, (e, a) => Math.Abs(e - a)).Max(), export = ort.Zip(pruned, (e, a) => Math.Abs(e - a)).Max();
        long before = plans.Sum(p => p.Before.Macs), after = plans.Sum(p => p.After.Macs);
        output.WriteLine($"{model.Name}: prunable {string.Join(", ", prunable)}; MACs {before:N0} -> {after:N0}; max |trained - pruned| {surgery:E2}, max |ONNX Runtime - TorchSharp| {export:E2}.");

        Assert.True(after < before, "zeroed groups must be removed");
        // Channels are pruned through the coupled patterns: producers of a Concat at their offsets, a squeeze-excitation
        // block with its excitation conv following it, a depthwise conv with its input.
        var narrowed = plans.Where(p => p.KeptOutputs.Length < p.OriginalShape[0]).Select(p => p.Name).ToList();
        Assert.All(ExpectedNarrowed.GetValueOrDefault(name, []), layer => Assert.Contains(layer, narrowed));
        Assert.InRange(surgery, 0, 1e-4);
        Assert.InRange(export, 0, 1e-4);
        Assert.True(expected.Distinct().Count() > Images);
    }

    private static readonly Dictionary<string, string[]> ExpectedNarrowed = new()
    {
        ["dense-concat"] = ["features_0_Conv", "features_3_Conv"],
        ["fire-concat"] = ["features_6_Conv", "features_8_Conv"],
        ["squeeze-excitation"] = ["features_3_Conv", "se_fc2"],
        ["reduce-mean-excitation"] = ["features_3_Conv", "se_fc2"],
        ["depthwise"] = ["features_3_Conv", "features_6_Conv"],
        ["concat-depthwise"] = ["features_3_Conv", "features_6_Conv", "features_9_Conv"],
    };

    /// <summary>Runs the backend self-check a fit runs on the graph's convolutions, so that TorchSharp's side is computed
    /// by a backend that computes them right on this machine (libtorch's oneDNN got some of these shapes wrong on an
    /// AMD EPYC; the check switches it off for the process then).</summary>
    private void TrustConvolutions(NetworkGraph graph)
        => BackendCheck.ForThisProcess(get_num_threads()).Ensure(ProbeShape.Of(graph, [Images]), CPU, _ => { }, output.WriteLine);

    /// <summary>Logits from ONNX Runtime, with the value added as an output where it is not one.</summary>
    internal static float[] OnnxRuntimeLogits(byte[] model, string logits, string input)
    {
        using var session = new InferenceSession(OnnxModelBuilder.WithOutput(model, logits));
        var image = new OnnxRuntime.Tensors.DenseTensor<float>(Pixels, [Images, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, image)], [logits]);
        return results.First().AsEnumerable<float>().ToArray();
    }
}
