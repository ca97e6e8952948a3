using Microsoft.ML.Edp.Cli;
using Spectre.Console;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C stops training between batches, and the staging folder is removed; a second one kills the process.
    if (!cancel.IsCancellationRequested)
    {
        e.Cancel = true;
        cancel.Cancel();
    }
};
return EdpApp.Run(args, AnsiConsole.Console, cancel.Token);
