using TorchSharp;

namespace Microsoft.ML.Edp.Network;

/// <summary>Element-wise squares for the group norms and importances, computed as a product of two tensors.</summary>
/// <remarks>TorchSharp's <c>square()</c> is <c>pow(2)</c> with a temporary <see cref="Scalar"/> that nothing keeps alive
/// during the native call. Under memory pressure the garbage collector may release it while libtorch reads it, and the
/// fit stopped on "INTERNAL ASSERT FAILED at c10/core/Scalar.h:279" in <c>pow</c> (seen twice, under a load of about 25
/// on 2 cores). <c>x * x</c> takes no scalar, and computes the same values as libtorch's <c>pow(x, 2)</c>.</remarks>
internal static class TensorSquares
{
    public static torch.Tensor Squared(this torch.Tensor x) => x * x;
}
