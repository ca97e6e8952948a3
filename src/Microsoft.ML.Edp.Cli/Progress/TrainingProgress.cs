using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Microsoft.ML.Edp.Cli.Progress;

/// <summary>Shows training progress: a live Spectre.Console display on an interactive terminal, or one plain line per
/// epoch when the output is redirected or <c>CI</c> is set.</summary>
public abstract class TrainingProgress
{
    /// <summary>Chooses the live display when <paramref name="console"/> is interactive, the process output is not
    /// redirected and <c>CI</c> is unset.</summary>
    public static TrainingProgress For(IAnsiConsole console)
        => For(console, Console.IsOutputRedirected, Environment.GetEnvironmentVariable("CI"));

    /// <summary>The live display for an interactive console whose output is not redirected, outside CI; else plain lines.</summary>
    public static TrainingProgress For(IAnsiConsole console, bool outputRedirected, string? ci)
        => console.Profile.Capabilities.Interactive && !outputRedirected && string.IsNullOrEmpty(ci)
            ? new LiveTrainingProgress(console)
            : new PlainTrainingProgress(console);

    /// <summary>Runs <paramref name="train"/>, which reports through <see cref="OnProgress"/>.</summary>
    public abstract T Run<T>(int epochs, int batchesPerEpoch, Func<T> train);

    /// <summary>A training progress event from <see cref="EdpCompressOptions.Progress"/>; the one that closes an epoch
    /// carries the live rank and width of every layer.</summary>
    public abstract void OnProgress(EdpProgress progress);

    /// <summary>Estimated time left, from the mean time per batch so far.</summary>
    protected static TimeSpan? Remaining(Stopwatch clock, long done, long total)
        => done == 0 ? null : TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / done * (total - done));

    /// <summary>"1:05" or "1:02:05".</summary>
    protected static string Format(TimeSpan? t)
        => t is not { } v ? "?" : v.TotalHours >= 1 ? v.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : v.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}

/// <summary>Plain log lines: one per epoch with loss, accuracy, live MACs, elapsed time and ETA, and under it the
/// live rank/width of every layer.</summary>
internal sealed class PlainTrainingProgress(IAnsiConsole console) : TrainingProgress
{
    private readonly Stopwatch _clock = new();
    private int _batchesPerEpoch;

    public override T Run<T>(int epochs, int batchesPerEpoch, Func<T> train)
    {
        _batchesPerEpoch = batchesPerEpoch;
        _clock.Restart();
        return train();
    }

    public override void OnProgress(EdpProgress p)
    {
        if (!p.EpochCompleted)
            return;
        long done = (long)p.Epoch * _batchesPerEpoch;
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {p.Epoch}/{p.Epochs}: loss {p.Loss:F4}, accuracy {p.Accuracy:P1}, live MACs {p.LiveMacs:N0}, elapsed {Format(_clock.Elapsed)}, ETA {Format(Remaining(_clock, done, (long)p.Epochs * _batchesPerEpoch))}"));
        if (p.Layers is { Count: > 0 } layers)
            console.WriteLine("  rank/width " + string.Join(" ", layers));
    }
}

/// <summary>A live display: an overall bar with elapsed time and ETA, a bar per epoch with loss and accuracy, and the
/// network's live rank/width as it shrinks.</summary>
internal sealed class LiveTrainingProgress(IAnsiConsole console) : TrainingProgress
{
    private readonly Stopwatch _clock = new();
    private ProgressContext? _context;
    private ProgressTask? _overall, _epoch, _shape;
    private int _batchesPerEpoch;

    public override T Run<T>(int epochs, int batchesPerEpoch, Func<T> train)
    {
        _batchesPerEpoch = batchesPerEpoch;
        _clock.Restart();
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                _context = ctx;
                _overall = ctx.AddTask("training", maxValue: (double)epochs * batchesPerEpoch);
                _shape = ctx.AddTask("[grey]rank/width: plain network[/]", autoStart: false, maxValue: 1);
                var result = train();
                _overall.Value = _overall.MaxValue;
                return result;
            });
    }

    public override void OnProgress(EdpProgress p)
    {
        if (_context == null || _overall == null)
            return;
        if (_epoch == null || _epoch.Description.StartsWith($"epoch {p.Epoch}/", StringComparison.Ordinal) == false)
        {
            _epoch?.StopTask();
            _epoch = _context.AddTask($"epoch {p.Epoch}/{p.Epochs}", maxValue: _batchesPerEpoch);
        }
        _epoch.Value = Math.Min(p.Batch, _batchesPerEpoch);
        _epoch.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3} acc {p.Accuracy:P1}")
            + (p.LiveMacs is { } macs ? string.Create(CultureInfo.InvariantCulture, $" MACs {macs:N0}") : "");
        _overall.Value = (double)(p.Epoch - 1) * _batchesPerEpoch + Math.Min(p.Batch, _batchesPerEpoch);
        if (p.EpochCompleted)
            _epoch.StopTask();
        // The live row stays narrow: "rank/width 9/16 16/16 ..." in layer order, without the layer names.
        if (p.Layers is { Count: > 0 } layers && _shape != null)
            _shape.Description = "[grey]rank/width " + Markup.Escape(string.Join(" ",
                layers.Select(l => l.RankWidth))) + "[/]";
    }
}
