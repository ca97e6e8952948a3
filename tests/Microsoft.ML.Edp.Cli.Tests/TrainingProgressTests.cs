using Microsoft.ML.Edp.Cli.Progress;
using Spectre.Console;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>The live display on a terminal, plain lines when redirected or under CI; both show loss, accuracy, live
/// MACs and the live rank/width, all read from the progress events.</summary>
public sealed class TrainingProgressTests
{
    private static readonly EdpProgress[] Events =
    [
        new(1, 2, 1, 2.0, 0.25, false, null), new(1, 2, 2, 1.5, 0.5, false, null), new(1, 2, 2, 1.5, 0.5, true, 7_000_000),
        new(2, 2, 1, 0.9, 0.7, false, null), new(2, 2, 2, 0.8, 0.75, false, null),
        new(2, 2, 2, 0.8, 0.75, true, 5_000_000, [new("conv1", 9, 16, 3_000_000, 400), new("conv2", 12, 16, 1_999_000, 900), new("classifier", null, 10, 1_000, 170)]),
    ];

    [Theory]
    [InlineData(true, false, null, true)]
    [InlineData(true, true, null, false)]
    [InlineData(true, false, "true", false)]
    [InlineData(false, false, null, false)]
    public void The_live_display_is_chosen_only_for_an_interactive_unredirected_terminal_outside_ci(bool interactive, bool redirected, string? ci, bool live)
    {
        var (console, _) = NewConsole(interactive);
        Assert.Equal(live ? "LiveTrainingProgress" : "PlainTrainingProgress", TrainingProgress.For(console, redirected, ci).GetType().Name);
    }

    [Fact]
    public void Plain_lines_carry_loss_accuracy_live_macs_elapsed_eta_and_the_rank_width()
    {
        var (console, writer) = NewConsole(interactive: false);
        var progress = TrainingProgress.For(console, outputRedirected: true, ci: null);
        Assert.Equal(42, progress.Run(2, 2, () => Replay(progress)));
        string text = writer.ToString();
        Assert.Matches(@"epoch 1/2: loss 1\.5000, accuracy 50\.0 %, live MACs 7,000,000, elapsed \d+:\d\d, ETA \d+:\d\d", text);
        Assert.Matches(@"epoch 2/2: loss 0\.8000, accuracy 75\.0 %, live MACs 5,000,000, elapsed \d+:\d\d, ETA 0:00", text);
        Assert.Matches(@"epoch 2/2: [^\n]*\n  rank/width conv1:9/16 conv2:12/16 classifier:-/10", text.ReplaceLineEndings("\n"));
        Assert.DoesNotMatch(@"epoch 1/2: [^\n]*\n  rank/width", text.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("epoch 1/2: loss 2.0000", text);
    }

    [Fact]
    public void The_live_display_renders_each_epoch_and_the_live_rank_width()
    {
        var (console, writer) = NewConsole(interactive: true);
        var progress = TrainingProgress.For(console, outputRedirected: false, ci: null);
        Assert.Equal(42, progress.Run(2, 2, () => Replay(progress)));
        string text = writer.ToString();
        Assert.Contains("epoch 1/2 loss 1.500 acc 50.0 % MACs 7,000,000", text);
        Assert.Contains("epoch 2/2 loss 0.800 acc 75.0 % MACs 5,000,000", text);
        Assert.Contains("rank/width 9/16 12/16 -/10", text);
        Assert.Contains("training", text);
    }

    private static int Replay(TrainingProgress progress)
    {
        foreach (var e in Events)
            progress.OnProgress(e);
        return 42;
    }

    private static (IAnsiConsole Console, StringWriter Writer) NewConsole(bool interactive)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 200;
        return (console, writer);
    }
}
