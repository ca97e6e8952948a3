using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Edp.Export;

/// <summary>ONNX Runtime sessions as ML.NET's <c>OnnxTransformer</c> makes them on the CPU, so that what this library
/// checks and times is what a user's pipeline runs.</summary>
internal static class OrtSessions
{
    /// <summary>A CPU session with ML.NET's defaults: all graph optimisations (which include the NCHWc layout
    /// transformer), sequential execution and ONNX Runtime's own thread pools.</summary>
    public static InferenceSession Create(byte[] model)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        return new InferenceSession(model, options);
    }
}
