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
var console = AnsiConsole.Console;
// Redirected output is read by tools and logs: one line per message, not wrapped at an assumed 80 columns.
if (Console.IsOutputRedirected)
    console.Profile.Width = 4000;
return EdpApp.Run(args, console, cancel.Token);
