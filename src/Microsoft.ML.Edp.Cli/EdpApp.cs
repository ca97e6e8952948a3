using System.Reflection;
using Microsoft.ML.Edp.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli;

/// <summary>The <c>edp</c> command line: compress, evaluate, predict, report and profile.</summary>
public static class EdpApp
{
    /// <summary>The tool's version.</summary>
    public static string Version => typeof(EdpApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>The version of Microsoft.ML.Edp the tool was built with.</summary>
    public static string LibraryVersion => typeof(EdpModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Runs the tool with <paramref name="args"/>, writing to <paramref name="console"/>; returns the exit code.</summary>
    public static int Run(string[] args, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("edp");
            config.SetApplicationVersion(Version);
            config.ConfigureConsole(console);
            config.AddCommand<CompressCommand>("compress")
                .WithDescription("Train and compress an image classifier with EDP on a folder of labelled images (one subfolder per class).")
                .WithExample("compress", "--dataset", "images/train", "--output", "out", "--epochs", "5");
            config.AddCommand<EvaluateCommand>("evaluate")
                .WithDescription("Accuracy, per-class precision and recall and the confusion matrix of a saved model on a folder of labelled images.")
                .WithExample("evaluate", "--model", "out/model.zip", "--dataset", "images/test");
            config.AddCommand<PredictCommand>("predict")
                .WithDescription("The most likely classes of image files, with their scores.")
                .WithExample("predict", "--model", "out/model.zip", "shoe.png", "shirt.jpg");
            config.AddCommand<ReportCommand>("report")
                .WithDescription("Re-render report.md and the charts of an output folder from its report.json, or from model.zip's embedded report.")
                .WithExample("report", "out");
            config.AddCommand<ProfileCommand>("profile")
                .WithDescription("Measure ONNX Runtime latency of a network's layers on this machine and write the table that the library's LatencyTablePath reads, so that a model trained elsewhere is compressed for this machine's speed.")
                .WithExample("profile", "--architecture", "VggSmall", "--image-size", "28x28", "--output", "latency.json");
            config.SetExceptionHandler((exception, _) => Fail(console, exception));
        });
        return app.Run(args, cancellationToken);
    }

    private static int Fail(IAnsiConsole console, Exception exception)
    {
        switch (exception)
        {
            // The library checks options and data against each other (for example a target it cannot reach) and names them.
            case CliException or CommandAppException or ArgumentOutOfRangeException:
                console.MarkupLine("[red]error:[/] " + Markup.Escape(exception.Message));
                return ExitCodes.BadInput;
            case OperationCanceledException:
                console.MarkupLine("[yellow]cancelled[/]; nothing was written.");
                return ExitCodes.BadInput;
            default:
                var inner = exception is TargetInvocationException { InnerException: { } e } ? e : exception;
                console.MarkupLine("[red]error:[/] " + Markup.Escape($"{inner.GetType().Name}: {inner.Message}"));
                return ExitCodes.InternalError;
        }
    }
}
