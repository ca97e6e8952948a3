using System.Text.Json.Serialization;

namespace Microsoft.ML.Edp.Network;

/// <summary>The network to build: the image shape, a built-in architecture with its widths or an ONNX model to start
/// from, and whether its conv and linear layers train as compressed-aware blocks. The ONNX model's bytes and path are
/// left out of a checkpoint's fingerprint, where the imported graph's layers stand for them (so a moved model file
/// still resumes).</summary>
internal sealed record NetworkSettings(
    int ImageChannels, int ImageHeight, int ImageWidth, EdpArchitecture Architecture, int[]? ConvWidths, int[]? ResNetWidths,
    bool Compress, bool ExcludeFirstAndLast, EdpCoefficientInit CoefficientInit,
    [property: JsonIgnore] byte[]? OnnxModel = null, [property: JsonIgnore] string? OnnxModelPath = null);
