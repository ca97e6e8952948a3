using Spectre.Console;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>Runs the edp tool in-process with a plain, wide, non-interactive console and captures what it prints.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Output) Run(params string[] args) => Run(args, default);

    public static (int ExitCode, string Output) Run(string[] args, CancellationToken cancellationToken)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 4000;
        int code = EdpApp.Run(args, console, cancellationToken);
        return (code, writer.ToString());
    }
}
