using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Edp.Export;

/// <summary>Runs a model in ONNX Runtime on batches of images: an exported one (input and logits named as the writer
/// names them), for validation and accuracy after PM, or any other given the names of its image input and of the
/// output to read.</summary>
internal sealed class OnnxScorer(byte[] model, string input = OnnxNames.Input, string output = OnnxNames.Logits) : IDisposable
{
    private readonly InferenceSession _session = OrtSessions.Create(model);

    /// <summary>Logits [count, K] for <paramref name="count"/> images laid out as [count, C, H, W].</summary>
    public float[] Logits(float[] pixels, int count, int channels, int height, int width)
    {
        var images = new DenseTensor<float>(pixels.AsMemory(0, count * channels * height * width), [count, channels, height, width]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(input, images)], [output]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
