using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Edp.Export;

/// <summary>ONNX Runtime sessions as ML.NET's <c>OnnxTransformer</c> makes them on the CPU, so that what this library
/// checks and times is what a user's pipeline runs.</summary>
internal static class OrtSessions
{
    /// <summary>A CPU session with ML.NET's defaults: all graph optimisations (which include the NCHWc layout
    /// transformer), sequential execution and ONNX Runtime's own thread pools. <paramref name="spinning"/> false stops
    /// the pool's threads from spinning between runs: timing runs several sessions in turn, and each session's
    /// spinning threads would take the cores from the next one (a model measured 10 to 50 times slower that way).</summary>
    public static InferenceSession Create(byte[] model, bool spinning = true)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (!spinning)
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(model, options);
    }
}
