using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>conv (plain or CAB) -> BatchNorm -> ReLU -> optional 2x2 max pool.</summary>
internal sealed class ConvBlock : nn.Module<Tensor, Tensor>
{
    public readonly LayerWeight conv;
    public readonly BatchNorm2d bn;
    public ConvLayerSpec Spec { get; }

    public ConvBlock(ConvLayerSpec spec, EdpCoefficientInit init) : base(spec.Name)
    {
        Spec = spec;
        using var initial = LayerWeight.InitialWeight([spec.OutChannels, spec.InChannels, spec.Kernel, spec.Kernel]);
        conv = spec.Compressed ? CompressedWeight.FromWeight("conv", initial, init) : new PlainWeight("conv", initial);
        bn = nn.BatchNorm2d(spec.OutChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.conv2d(x, conv.Compose(), strides: [Spec.Stride, Spec.Stride], padding: [Spec.Padding, Spec.Padding]);
        y = nn.functional.relu(bn.forward(y));
        if (Spec.PoolAfter)
            y = nn.functional.max_pool2d(y, 2, 2);
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>The linear classifier (plain or CAB) over globally pooled features.</summary>
internal sealed class ClassifierHead : nn.Module<Tensor, Tensor>
{
    public readonly LayerWeight linear;
    public readonly Parameter bias;

    public ClassifierHead(int inFeatures, int classes, bool compressed, EdpCoefficientInit init) : base(NetworkSpec.ClassifierName)
    {
        using var initial = LayerWeight.InitialWeight([classes, inFeatures]);
        linear = compressed ? CompressedWeight.FromWeight("linear", initial, init) : new PlainWeight("linear", initial);
        double bound = 1 / Math.Sqrt(inFeatures);
        bias = nn.Parameter(empty(classes).uniform_(-bound, bound));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.linear(x, linear.Compose(), bias);
}
