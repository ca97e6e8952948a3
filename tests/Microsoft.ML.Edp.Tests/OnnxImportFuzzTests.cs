using Google.Protobuf;
using Microsoft.ML.Edp.Import;
using Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Edp.Tests;

/// <summary>Mutated ONNX files either import or raise <see cref="EdpOnnxImportException"/>: never another exception,
/// never a hang, never an allocation out of proportion to the file.</summary>
public class OnnxImportFuzzTests(ITestOutputHelper output)
{
    private const int Mutations = 800;

    [Fact]
    public async Task MutatedModelsLoadOrRaiseTheImportExceptionOnly()
    {
        var patterns = new[] { "mixed", "float16-weights", "explicit-pad", "same-padding", "channel-shuffle", "squeeze-excitation", "dense-concat", "depthwise" }.Select(p => OnnxPatternModels.Build(p, 13));
        var seeds = OnnxTestModels.All.Concat(patterns).Select(m => m.Bytes).ToArray();
        var rng = new Random(20261129);
        var failures = new List<string>();
        int loaded = 0, rejected = 0;

        // A hang fails the test instead of stalling the suite.
        var run = Task.Run(() =>
        {
            for (int i = 0; i < Mutations; i++)
            {
                var seed = seeds[i % seeds.Length];
                var (kind, bytes) = (i / seeds.Length % 3) switch
                {
                    0 => ("truncate", seed[..rng.Next(seed.Length)]),
                    1 => ("flip bytes", FlipBytes(seed, rng)),
                    _ => ("corrupt dims", CorruptDims(seed, rng)),
                };
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    var net = OnnxGraphImporter.Import(bytes, $"mutation {i}", (1, 28, 28));
                    ImportedHead.Fit(net, 10, compress: true, excludeFirstAndLast: false);
                    loaded++;
                }
                catch (EdpOnnxImportException e)
                {
                    rejected++;
                    if (!e.Message.StartsWith($"ONNX model mutation {i}", StringComparison.Ordinal))
                        failures.Add($"{i} ({kind}): the message does not name the model: {e.Message}");
                }
                catch (Exception e)
                {
                    failures.Add($"{i} ({kind}): {e.GetType().Name}: {e.Message}");
                }
                // Parsing holds the file a few times over; anything far beyond that is an unchecked declared size.
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > 16L * seed.Length + (4 << 20))
                    failures.Add($"{i} ({kind}): allocated {allocated} bytes for a {bytes.Length}-byte file");
            }
        });
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(2))) == run, "The importer did not finish the mutated models: it hangs on one.");
        await run;
        output.WriteLine($"{loaded} mutated models loaded, {rejected} rejected, {failures.Count} failures.");

        Assert.Empty(failures);
        // The mutations must exercise both outcomes, or the test proves nothing.
        Assert.InRange(rejected, Mutations / 4, Mutations - 1);
        Assert.InRange(loaded, 1, Mutations);
    }

    private static byte[] FlipBytes(byte[] seed, Random rng)
    {
        var bytes = (byte[])seed.Clone();
        for (int k = rng.Next(1, 5); k > 0; k--)
            bytes[rng.Next(bytes.Length)] ^= (byte)rng.Next(1, 256);
        return bytes;
    }

    /// <summary>Sets a dim of an initializer, of the graph input, or an int of a node attribute to a wrong value,
    /// keeping the file otherwise valid.</summary>
    private static byte[] CorruptDims(byte[] seed, Random rng)
    {
        long[] wrong = [0, -1, 1, 2, 3, 7, 1 << 20, int.MaxValue, 1L << 40, long.MaxValue, long.MinValue];
        var m = ModelProto.Parser.ParseFrom(seed);
        var g = m.Graph;
        long value = wrong[rng.Next(wrong.Length)];
        switch (rng.Next(3))
        {
            case 0:
                var t = g.Initializer[rng.Next(g.Initializer.Count)];
                if (t.Dims.Count == 0)
                    t.Dims.Add(value);
                else
                    t.Dims[rng.Next(t.Dims.Count)] = value;
                break;
            case 1:
                var dims = g.Input[0].Type.TensorType.Shape.Dim;
                dims[rng.Next(dims.Count)] = new TensorShapeProto.Types.Dimension { DimValue = value };
                break;
            default:
                var attributes = g.Node.SelectMany(n => n.Attribute).Where(a => a.Ints.Count > 0 || a.Type == AttributeProto.Types.AttributeType.Int).ToArray();
                var a = attributes[rng.Next(attributes.Length)];
                if (a.Ints.Count > 0)
                    a.Ints[rng.Next(a.Ints.Count)] = value;
                else
                    a.I = value;
                break;
        }
        return m.ToByteArray();
    }
}
