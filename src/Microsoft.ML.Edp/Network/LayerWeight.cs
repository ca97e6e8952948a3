using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>The weight of a conv or linear layer: either a plain tensor, or a compressed-aware block's basis and
/// coefficients. Layers ask for <see cref="Compose"/> and stay agnostic of which.</summary>
internal abstract class LayerWeight(string name) : nn.Module(name)
{
    /// <summary>The weight the layer applies: [n, c, k, k] for a conv, [n, c] for a linear layer.</summary>
    public abstract Tensor Compose();

    /// <summary>Creates the default initial weight of a plain layer (PyTorch's Kaiming-uniform init).</summary>
    public static Tensor InitialWeight(long[] shape)
    {
        var w = empty(shape);
        nn.init.kaiming_uniform_(w, a: Math.Sqrt(5));
        return w;
    }
}

/// <summary>A plain layer weight W.</summary>
internal sealed class PlainWeight : LayerWeight
{
    public Parameter weight;

    public PlainWeight(string name, Tensor initial) : base(name)
    {
        using var detached = initial.detach();
        weight = nn.Parameter(detached.clone());
        RegisterComponents();
    }

    public override Tensor Compose() => weight;
}
