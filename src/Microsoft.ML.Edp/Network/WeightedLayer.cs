using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Network;

/// <summary>A conv or linear layer of an <see cref="EdpNet"/>: its weight (plain, or a compressed-aware block) and an
/// optional bias. Compressed layers with given weights start from their SVD, so an imported layer computes what it
/// computed before.</summary>
internal sealed class WeightedLayer : nn.Module<Tensor, Tensor>
{
    public readonly LayerWeight weight;
    public readonly Parameter? bias;
    public WeightLayer Node { get; }

    public WeightedLayer(LayerNode node, EdpCoefficientInit init) : base(node.Name)
    {
        Node = node switch
        {
            ConvLayer { Groups: > 1, Compressed: true } => throw new ArgumentException($"Layer '{node.Name}' is a grouped conv, which cannot be a compressed-aware block.", nameof(node)),
            WeightLayer w => w,
            _ => throw new ArgumentException($"Layer '{node.Name}' is not a conv or linear layer.", nameof(node)),
        };
        var (shape, compressed, given, givenBias) = (Node.WeightShape, Node.IsBlock, Node.Weight, Node.Bias);
        using var initial = given is null ? LayerWeight.InitialWeight(shape) : ToTensor(given, shape, node.Name);
        try
        {
            weight = !compressed ? new PlainWeight("weight", initial)
                : given is null ? CompressedWeight.FromWeight("weight", initial, init)
                : CompressedWeight.FromSvd("weight", initial, Math.Min(shape[0], initial.numel() / shape[0]));
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"Layer '{node.Name}': {e.Message}", e);
        }
        if (Node.Biased)
        {
            double bound = 1 / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, b) => a * b));
            bias = nn.Parameter(givenBias is null ? empty(shape[0]).uniform_(-bound, bound) : ToTensor(givenBias, [shape[0]], node.Name));
        }
        RegisterComponents();
    }

    public bool IsConv => Node is ConvLayer;

    public override Tensor forward(Tensor x) => LayerOps.Weighted(Node, x, weight.Compose(), bias);

    internal static Tensor ToTensor(DenseTensor t, long[] shape, string layer)
        => t.Shape.SequenceEqual(shape) ? tensor(t.Values, shape)
            : throw new ArgumentException($"Layer '{layer}' was given a tensor of shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}].");
}
