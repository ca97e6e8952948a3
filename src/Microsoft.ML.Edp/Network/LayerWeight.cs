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

    /// <summary>Output channels or features.</summary>
    public abstract long OutChannels { get; }

    /// <summary>Basis filters: a block's rank groups; 0 for a plain layer, which has none.</summary>
    public virtual long Rank => 0;

    /// <summary>The parameter whose row i makes output channel i, which channel groups take: a block's coefficients A,
    /// a plain layer's weight.</summary>
    public abstract Parameter Rows { get; }

    /// <summary>The parameter whose columns are the rank groups: a block's coefficients A; null for a plain layer.</summary>
    public virtual Parameter? Columns => null;

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

    public override long OutChannels => weight.shape[0];

    public override Parameter Rows => weight;
}
