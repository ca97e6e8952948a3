using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Edp.Export;

/// <summary>Runs an exported model in ONNX Runtime on batches of images, for validation and accuracy after PM.</summary>
internal sealed class OnnxScorer(byte[] model) : IDisposable
{
    private readonly InferenceSession _session = OrtSessions.Create(model);

    /// <summary>Logits [count, K] for <paramref name="count"/> images laid out as [count, C, H, W].</summary>
    public float[] Logits(float[] pixels, int count, int channels, int height, int width)
    {
        var input = new DenseTensor<float>(pixels.AsMemory(0, count * channels * height * width), [count, channels, height, width]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(OnnxNames.Input, input)], [OnnxNames.Logits]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
