using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>The trainable VGG-style classifier: conv blocks, global average pooling, a linear head. Any layer may be a
/// compressed-aware block; the spec says which.</summary>
internal sealed class EdpNet : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<ConvBlock> blocks;
    public readonly ClassifierHead head;
    public NetworkSpec Spec { get; }

    public EdpNet(NetworkSpec spec, EdpCoefficientInit init = EdpCoefficientInit.Identity) : base("edp_net")
    {
        Spec = spec;
        Blocks = spec.Convs.Select(c => new ConvBlock(c, init)).ToArray();
        blocks = new ModuleList<ConvBlock>(Blocks.ToArray());
        head = new ClassifierHead(spec.Convs[^1].OutChannels, spec.Classes, spec.CompressedClassifier, init);
        RegisterComponents();
    }

    public IReadOnlyList<ConvBlock> Blocks { get; }

    /// <summary>Logits [N, classes] for images [N, C, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var block in Blocks)
            x = block.forward(x);
        x = x.mean([2, 3]);
        return head.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Every coefficient matrix A, which takes group penalties instead of weight decay.</summary>
    public IEnumerable<Parameter> CoefficientParameters()
        => Blocks.Select(b => b.conv).Append(head.linear).OfType<CompressedWeight>().Select(w => w.coefficients);
}
