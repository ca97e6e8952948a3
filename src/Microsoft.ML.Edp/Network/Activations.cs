using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>The element-wise activations an imported model may use besides ReLU, each computed as ONNX defines it.</summary>
internal enum Activation
{
    /// <summary>1 / (1 + exp(-x)).</summary>
    Sigmoid,
    /// <summary>max(0, min(1, Alpha x + Beta)).</summary>
    HardSigmoid,
    /// <summary>x max(0, min(1, x / 6 + 1 / 2)).</summary>
    HardSwish,
    /// <summary>x sigmoid(x), also called Swish.</summary>
    SiLU,
    /// <summary>x for x >= 0, Alpha x below.</summary>
    LeakyRelu,
    /// <summary>min(Beta, max(Alpha, x)); infinite bounds clip nothing.</summary>
    Clip,
}

/// <summary>The activations in TorchSharp, written as ONNX defines them so that training, the export check and ONNX
/// Runtime agree.</summary>
internal static class Activations
{
    public static Tensor Apply(Tensor x, Activation kind, float alpha, float beta) => kind switch
    {
        Activation.Sigmoid => x.sigmoid(),
        Activation.HardSigmoid => (x * alpha + beta).clamp(0, 1),
        Activation.HardSwish => x * (x / 6 + 0.5).clamp(0, 1),
        Activation.SiLU => x * x.sigmoid(),
        Activation.LeakyRelu => nn.functional.leaky_relu(x, alpha),
        Activation.Clip => x.clamp(float.IsNegativeInfinity(alpha) ? null : alpha, float.IsPositiveInfinity(beta) ? null : beta),
        _ => throw new NotSupportedException($"Activation {kind} has no TorchSharp mapping."),
    };
}
