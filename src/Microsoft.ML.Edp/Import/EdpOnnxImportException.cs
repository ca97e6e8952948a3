namespace Microsoft.ML.Edp;

/// <summary>An ONNX model that cannot be imported for compression: it does not parse, or it uses an operator, an
/// attribute or a layout the importer does not support. The message names the model, the node, its operator and the
/// reason.</summary>
public sealed class EdpOnnxImportException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the model and, where there is one, the node and its operator.</param>
    /// <param name="nodeName">The ONNX node at fault, or null when the fault is in the model as a whole.</param>
    /// <param name="opType">The operator of that node, or null.</param>
    /// <param name="innerException">The parse error behind this one, if any.</param>
    public EdpOnnxImportException(string message, string? nodeName = null, string? opType = null, Exception? innerException = null)
        : base(message, innerException)
    {
        NodeName = nodeName;
        OpType = opType;
    }

    /// <summary>The name of the ONNX node at fault (its first output when the node has no name), or null when the
    /// fault is in the model as a whole (its bytes, version, inputs or outputs).</summary>
    public string? NodeName { get; }

    /// <summary>The operator of the node at fault, e.g. <c>Conv</c>, or null.</summary>
    public string? OpType { get; }
}
