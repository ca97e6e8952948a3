using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.Edp.Backend;

/// <summary>The largest error of a float32 call against float64, relative to the float64 result's largest magnitude,
/// for the forward pass with and without autograd, the input gradient and the weight gradient. NaN when a float32
/// result is not finite.</summary>
internal sealed record ProbeResult(ProbeShape Shape, double Forward, double Inference, double InputGradient, double WeightGradient)
{
    [System.Text.Json.Serialization.JsonIgnore] public double Worst => new[] { Forward, Inference, InputGradient, WeightGradient }.Aggregate(0.0, (m, e) => double.IsNaN(e) || double.IsNaN(m) ? double.NaN : Math.Max(m, e));

    public bool Passes(double tolerance) => Worst <= tolerance; // NaN fails

    public override string ToString()
        => $"{Shape}: relative error forward {Forward:G3}, inference {Inference:G3}, input gradient {InputGradient:G3}, weight gradient {WeightGradient:G3}";
}

/// <summary>Runs one conv or linear call in float32 on the fit's device, forward (training and inference) and
/// backward, and compares it with the same call in float64 on the CPU. float64 convolutions do not go through oneDNN
/// (or cuDNN), which makes them the reference. Uses its own generator, so the fit's seeded streams are untouched.</summary>
internal static class NumericProbe
{
    /// <summary>float32 accumulates error of about 1e-5 of the largest value here, even over thousands of terms; the
    /// faults this guards against are of order 1, or NaN. On CUDA, TF32 convolutions are allowed to be 10x coarser.</summary>
    public static double Tolerance(Device device) => device.type == DeviceType.CPU ? 1e-3 : 1e-2;

    /// <summary>Keeps the float64 reference to about a second per shape: the batch is cut to fit this many MACs.</summary>
    public const long MaxMacs = 400_000_000;

    public static ProbeResult Run(ProbeShape shape, Device device)
    {
        using var scope = NewDisposeScope();
        // It checks gradients too, so a caller's no_grad must not reach it.
        using var gradients = enable_grad();
        var generator = new Generator(0x5EED_C0DE);
        var inputShape = shape.IsLinear ? new long[] { shape.Batch, shape.InChannels } : [shape.Batch, shape.InChannels, shape.Height, shape.Width];
        var weightShape = shape.IsLinear ? new long[] { shape.OutChannels, shape.InChannels } : [shape.OutChannels, shape.InChannels / shape.Groups, shape.Kernel, shape.Kernel];
        var x = randn(inputShape, generator: generator, dtype: ScalarType.Float64);
        var w = randn(weightShape, generator: generator, dtype: ScalarType.Float64) / Math.Sqrt(shape.InChannels / shape.Groups * shape.Kernel * shape.Kernel);
        var b = shape.HasBias ? randn(shape.OutChannels, generator: generator, dtype: ScalarType.Float64) : null;

        var outputShape = shape.IsLinear ? new long[] { shape.Batch, shape.OutChannels } : [shape.Batch, shape.OutChannels, shape.OutputHeight, shape.OutputWidth];
        var gradient = randn(outputShape, generator: generator, dtype: ScalarType.Float64);
        var reference = Call(shape, x, w, b, gradient);
        var single = Call(shape, x.to(ScalarType.Float32, device), w.to(ScalarType.Float32, device), b?.to(ScalarType.Float32, device), gradient.to(ScalarType.Float32, device));
        Tensor inference;
        using (no_grad())
            inference = Apply(shape, x.to(ScalarType.Float32, device), w.to(ScalarType.Float32, device), b?.to(ScalarType.Float32, device));
        return new ProbeResult(shape, Error(single.Output, reference.Output), Error(inference, reference.Output),
            Error(single.InputGradient, reference.InputGradient), Error(single.WeightGradient, reference.WeightGradient));
    }

    /// <summary>The same shape with the batch cut so that one pass stays within <see cref="MaxMacs"/> (at least 8
    /// images, or the whole batch if smaller).</summary>
    public static ProbeShape Affordable(ProbeShape shape)
    {
        long perImage = Math.Max(1, shape.Macs / Math.Max(1, shape.Batch));
        int batch = (int)Math.Clamp(MaxMacs / perImage, Math.Min(8, shape.Batch), shape.Batch);
        return shape with { Batch = batch };
    }

    private sealed record Outputs(Tensor Output, Tensor InputGradient, Tensor WeightGradient);

    private static Outputs Call(ProbeShape shape, Tensor x, Tensor w, Tensor? b, Tensor gradient)
    {
        x = x.detach().requires_grad_(true);
        w = w.detach().requires_grad_(true);
        var y = Apply(shape, x, w, b);
        y.backward([gradient]);
        return new Outputs(y.detach(), x.grad!, w.grad!);
    }

    private static Tensor Apply(ProbeShape s, Tensor x, Tensor w, Tensor? b) => s.IsLinear
        ? F.linear(x, w, b)
        : F.conv2d(x, w, b, strides: [s.Stride, s.Stride], padding: [s.Padding, s.Padding], groups: s.Groups);

    private static double Error(Tensor single, Tensor reference)
    {
        var s = single.to(ScalarType.Float64, CPU);
        if (!s.isfinite().all().item<bool>())
            return double.NaN;
        double scale = reference.abs().max().item<double>();
        return (s - reference).abs().max().item<double>() / Math.Max(scale, 1e-12);
    }
}
