namespace Microsoft.ML.Edp.Network;

/// <summary>A dense tensor in row-major order: the weights a network description carries from an imported model, and
/// those Pruning &amp; Merging hands to the ONNX writer.</summary>
internal sealed record DenseTensor(long[] Shape, float[] Values)
{
    public long Count => Values.LongLength;
}
