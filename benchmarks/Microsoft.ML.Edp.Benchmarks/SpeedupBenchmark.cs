using System.Globalization;
using System.Text;
using Microsoft.ML.Edp.Cost;
using Microsoft.ML.Edp.Cost.Latency;
using Microsoft.ML.Edp.Export;
using Microsoft.ML.Edp.Network;

namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>ONNX Runtime speed-up of saved models over the plain VGG-S export, at batch 1 and 64: all models in one
/// process, interleaved round by round, median of each, with the library's timing sessions.</summary>
public static class SpeedupBenchmark
{
    /// <summary>Arguments: <c>name=model.onnx</c> pairs; the plain VGG-S export (28x28, 10 classes) is added first.</summary>
    public static void Run(string[] models)
    {
        var plainGraph = FashionMnistNetwork.Build(new EdpCompressOptions());
        var named = new List<(string Name, byte[] Bytes)> { ("plain VGG-S", OnnxModelWriter.Write(TimingGraphs.Plain(plainGraph), new Dictionary<string, string>())) };
        named.AddRange(models.Select(m => m.Split('=', 2)).Select(p => (p[0], File.ReadAllBytes(p[1]))));
        var timers = named.Select(m => new OrtTimer(m.Bytes, 1, 28, 28)).ToList();
        try
        {
            var c = CultureInfo.InvariantCulture;
            var md = new StringBuilder();
            md.AppendLine(c, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Hardware.Current}, {Environment.ProcessorCount} cores; the machine was shared with other work.").AppendLine();
            md.AppendLine("| model | batch | median ms | speed-up over plain |").AppendLine("|---|---:|---:|---:|");
            foreach (int batch in new[] { 1, 64 })
            {
                var medians = OrtTimer.InterleavedMedians(timers, batch, batch == 1 ? 201 : 41);
                for (int i = 0; i < named.Count; i++)
                    md.AppendLine(c, $"| {named[i].Name} | {batch} | {medians[i]:F3} | {medians[0] / medians[i]:F2}x |");
            }
            Console.WriteLine(md);
        }
        finally
        {
            timers.ForEach(t => t.Dispose());
        }
    }
}
