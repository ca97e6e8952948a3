namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Loads a model.zip written by <c>edp compress</c>, with its class names, or fails naming the file.</summary>
internal static class ModelFile
{
    public static (ITransformer Model, EdpCompressionReport Report) Load(MLContext ml, string path)
    {
        if (!File.Exists(path))
            throw new CliException($"The model file '{path}' does not exist; expected the model.zip written by 'edp compress'.");
        try
        {
            var report = EdpModel.ReadReport(path);
            var model = EdpModel.Load(ml, path, out var schema);
            if (schema.GetColumnOrNull(Data.ImagePipeline.ImagePathColumn) is null)
                throw new CliException($"The model '{path}' takes no '{Data.ImagePipeline.ImagePathColumn}' column: it was not written by 'edp compress' (the library's own models take pixel vectors).");
            return (model, report);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            throw new CliException($"The model file '{path}' is not an EDP model written by 'edp compress': {e.Message}");
        }
    }
}
