using System.Text.Json.Serialization;
using Microsoft.ML.Edp.Data;

namespace Microsoft.ML.Edp.Network;

/// <summary>The network to build: the image shape (null until the data resolves what the options leave out), a built-in architecture with its widths or an ONNX model to start
/// from, whether its conv and linear layers are compressed, and whether they train as compressed-aware blocks. The ONNX model's bytes and path are
/// left out of a checkpoint's fingerprint, where the imported graph's layers stand for them (so a moved model file
/// still resumes), and so is <c>ImportedRewrite</c> (<see cref="EdpCompressOptions.ImportedNetworkRewrite"/>): the
/// layers' names, output widths and compressed flags stand for its result as they do for the model's (a rewrite that only drops weights
/// fingerprints as the imported weights do).</summary>
internal sealed record NetworkSettings(
    InputImageShape? Image, EdpArchitecture Architecture, int[]? ConvWidths, int[]? ResNetWidths,
    bool Compress, bool ExcludeFirstAndLast, EdpCoefficientInit CoefficientInit, bool Decompose,
    [property: JsonIgnore] byte[]? OnnxModel = null, [property: JsonIgnore] string? OnnxModelPath = null,
    [property: JsonIgnore] Func<NetworkGraph, NetworkGraph>? ImportedRewrite = null)
{
    /// <summary>The image shape; a network is built only once it is known.</summary>
    public InputImageShape Shape => Image ?? throw new InvalidOperationException("The image shape is not known yet: it is resolved from the feature column when the fit starts.");
}
