namespace Microsoft.ML.Edp.Cli;

/// <summary>A problem with what the user gave the tool (a folder, a file, an option): its message is printed as is and
/// the tool exits with <see cref="ExitCodes.BadInput"/>, without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>The tool's exit codes.</summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;
    /// <summary>Bad input: a missing or malformed folder, image, model or option.</summary>
    public const int BadInput = 1;
    /// <summary>An unexpected failure inside the tool or its libraries.</summary>
    public const int InternalError = 2;
}
