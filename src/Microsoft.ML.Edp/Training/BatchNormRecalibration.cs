using Microsoft.ML.Edp.Data;
using Microsoft.ML.Edp.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Recomputes every BN's running mean and variance for the final weights, as an exact average over a few
/// batches. The proximal steps keep rescaling channels until the last step, and BN's exponential running averages lag
/// behind such changes; PM folds these statistics into the exported convs, so they must match the weights.</summary>
internal static class BatchNormRecalibration
{
    public static void Run(EdpNet net, ImageBatchStream stream, int batches, int seed, Device device)
    {
        if (batches <= 0)
            return;
        var norms = net.Norms.Values.ToList();
        var momenta = norms.Select(bn => bn.momentum).ToList();
        foreach (var bn in norms)
            bn.reset_running_stats();
        net.train();
        using (no_grad())
        {
            var graph = net.Graph;
            int seen = 0;
            foreach (var batch in stream.Read(new Random(seed)).Take(batches))
            {
                // Momentum 1/(k+1) at batch k makes the running statistics the plain mean over the batches so far.
                seen++;
                foreach (var bn in norms)
                    bn.momentum = 1.0 / seen;
                using var scope = NewDisposeScope();
                net.forward(EdpTrainer.ToTensors(batch, graph.InChannels, graph.Height, graph.Width, device).X);
            }
        }
        for (int i = 0; i < norms.Count; i++)
            norms[i].momentum = momenta[i];
        net.eval();
    }
}
