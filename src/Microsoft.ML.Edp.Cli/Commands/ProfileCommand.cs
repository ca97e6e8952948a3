using System.ComponentModel;
using Microsoft.ML.Edp.Cli.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Options of <c>edp profile</c>.</summary>
public sealed class ProfileSettings : CommandSettings
{
    /// <summary>The JSON file the latency table is written to (atomically); required.</summary>
    [CommandOption("--output <FILE>", isRequired: true)]
    [Description("The latency table to write (JSON); give it to the library's LatencyTablePath on the machine that trains.")]
    public string Output { get; init; } = "";

    /// <summary>The built-in network whose layers are timed; default <see cref="EdpArchitecture.VggSmall"/>. Ignored with <see cref="FromOnnx"/>.</summary>
    [CommandOption("--architecture <NAME>")]
    [Description("VggSmall, VggMedium, ResNet20 or ResNet56. Ignored with --from-onnx.")]
    [DefaultValue(EdpArchitecture.VggSmall)]
    public EdpArchitecture Architecture { get; init; } = EdpArchitecture.VggSmall;

    /// <summary>An ONNX CNN whose layers are timed instead of <see cref="Architecture"/>, as <c>edp compress --from-onnx</c> would train it; the file must exist.</summary>
    [CommandOption("--from-onnx <FILE>")]
    [Description("Time the layers of this ONNX CNN instead of --architecture, as 'edp compress --from-onnx' would train it.")]
    public string? FromOnnx { get; init; }

    /// <summary>The network's input size as WxH; default 28x28.</summary>
    [CommandOption("--image-size <WxH>")]
    [Description("The network's input size, e.g. 28x28 or 32x32.")]
    [DefaultValue("28x28")]
    public string ImageSize { get; init; } = "28x28";

    /// <summary>Image channels, 1 (grayscale) or 3 (RGB); default 1.</summary>
    [CommandOption("--channels <N>")]
    [Description("Image channels: 1 for grayscale, 3 for RGB.")]
    [DefaultValue(1)]
    public int Channels { get; init; } = 1;

    /// <summary>The number of classes the model will predict, at least 2; default 10.</summary>
    [CommandOption("--classes <N>")]
    [Description("The number of classes the model will predict.")]
    [DefaultValue(10)]
    public int Classes { get; init; } = 10;

    /// <summary>The batch size the model will be scored at, at least 1; 1 and 64 are always timed beside it. Default 1.</summary>
    [CommandOption("--batch-size <N>")]
    [Description("The batch size the model will be scored at; 1 and 64 are always timed beside it.")]
    [DefaultValue(1)]
    public int BatchSize { get; init; } = 1;

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (Channels is not (1 or 3))
            return ValidationResult.Error($"--channels must be 1 or 3; found {Channels}.");
        if (Classes < 2)
            return ValidationResult.Error($"--classes must be at least 2; found {Classes}.");
        if (BatchSize < 1)
            return ValidationResult.Error($"--batch-size must be at least 1; found {BatchSize}.");
        if (FromOnnx is { } onnx && !File.Exists(onnx))
            return ValidationResult.Error($"--from-onnx '{onnx}': no such file.");
        return ValidationResult.Success();
    }
}

/// <summary><c>edp profile</c>: measures ONNX Runtime latency of a network's layers on this machine and writes the table,
/// so that a model trained elsewhere can be compressed for this machine's speed.</summary>
public sealed class ProfileCommand(IAnsiConsole console) : Command<ProfileSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ProfileSettings settings, CancellationToken cancellationToken)
    {
        var (width, height) = ImageShape.ParseSize(settings.ImageSize);
        var options = new EdpCompressOptions
        {
            Architecture = settings.Architecture, OnnxModelPath = settings.FromOnnx, ImageChannels = settings.Channels,
            ImageWidth = width, ImageHeight = height, LatencyBatchSize = settings.BatchSize,
        };
        console.WriteLine(EdpLatencyProfile.Write(options, settings.Classes, settings.Output, line => console.WriteLine(line)));
        return ExitCodes.Success;
    }
}
