namespace Microsoft.ML.Edp.Data;

/// <summary>A mini-batch of images and labels in reusable buffers. Only the first <see cref="Count"/> rows are valid.</summary>
internal sealed class ImageBatch(int capacity, int pixelCount)
{
    public float[] Pixels { get; } = new float[capacity * pixelCount];
    public long[] Labels { get; } = new long[capacity];
    public int PixelCount { get; } = pixelCount;
    public int Capacity { get; } = capacity;
    public int Count { get; set; }
}
