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

    /// <summary>The built-in network whose layers are timed; default <see cref="EdpArchitecture.VggSmall"/>. Ignored with <see cref="FromOnnx"/> or <see cref="Pretrained"/>.</summary>
    [CommandOption("--architecture <NAME>")]
    [Description("VggSmall, VggMedium, ResNet20 or ResNet56. Ignored with --from-onnx or --pretrained.")]
    [DefaultValue(EdpArchitecture.VggSmall)]
    public EdpArchitecture Architecture { get; init; } = EdpArchitecture.VggSmall;

    /// <summary>An ONNX CNN whose layers are timed instead of <see cref="Architecture"/>, as <c>edp compress --from-onnx</c> would train it; the file must exist.</summary>
    [CommandOption("--from-onnx <FILE>")]
    [Description("Time the layers of this ONNX CNN instead of --architecture, as 'edp compress --from-onnx' would train it.")]
    public string? FromOnnx { get; init; }

    /// <summary>A pretrained model whose layers are timed, found in the NuGet global packages folder as
    /// <c>edp compress --pretrained</c> finds it (<see cref="PretrainedModel.Known"/>); not with <see cref="FromOnnx"/>.</summary>
    [CommandOption("--pretrained <NAME>")]
    [Description("Time the layers of a pretrained model found in the NuGet packages folder, as 'edp compress --pretrained' would train it: resnet18 (package Microsoft.ML.DnnImageFeaturizer.ResNet18). 3 channels, 64x64 unless --image-size. Not with --from-onnx.")]
    public string? Pretrained { get; init; }

    /// <summary>The network's input size as WxH; default 28x28, or the pretrained model's default size (64x64 for
    /// resnet18) with <see cref="Pretrained"/>, as <c>edp compress</c> chooses it.</summary>
    [CommandOption("--image-size <WxH>")]
    [Description("The network's input size, e.g. 28x28 or 32x32. Default: 28x28; 64x64 with --pretrained.")]
    public string? ImageSize { get; init; }

    /// <summary>Image channels, 1 (grayscale) or 3 (RGB); default 1, or 3 with <see cref="Pretrained"/> (which takes RGB).</summary>
    [CommandOption("--channels <N>")]
    [Description("Image channels: 1 for grayscale, 3 for RGB. Default: 1; 3 with --pretrained.")]
    public int? Channels { get; init; }

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
        if (Channels is { } channels && channels is not (1 or 3))
            return ValidationResult.Error($"--channels must be 1 or 3; found {channels}.");
        if (Classes < 2)
            return ValidationResult.Error($"--classes must be at least 2; found {Classes}.");
        if (BatchSize < 1)
            return ValidationResult.Error($"--batch-size must be at least 1; found {BatchSize}.");
        if (FromOnnx is { } onnx && !File.Exists(onnx))
            return ValidationResult.Error($"--from-onnx '{onnx}': no such file.");
        if (Pretrained is { } name)
        {
            if (FromOnnx is not null)
                return ValidationResult.Error("--pretrained and --from-onnx both name the model to time; give one of them.");
            if (PretrainedModel.Find(name) is null)
                return ValidationResult.Error(PretrainedModel.Unknown(name));
            if (Channels is 1)
                return ValidationResult.Error($"--pretrained {name} takes 3-channel (RGB) images, and --channels asks for 1; drop --channels or give 3.");
        }
        return ValidationResult.Success();
    }
}

/// <summary><c>edp profile</c>: measures ONNX Runtime latency of a network's layers on this machine and writes the table,
/// so that a model trained elsewhere can be compressed for this machine's speed. <c>--pretrained</c> finds the model as
/// <c>edp compress --pretrained</c> does, at the same default input.</summary>
public sealed class ProfileCommand(IAnsiConsole console) : Command<ProfileSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ProfileSettings settings, CancellationToken cancellationToken)
    {
        var pretrained = settings.Pretrained is { } name ? PretrainedModel.Find(name)! : null;
        string? onnxModel = pretrained?.Resolve() ?? settings.FromOnnx;
        if (pretrained is not null)
            console.WriteLine($"Timing {pretrained.Name} (package {pretrained.PackageId}): '{onnxModel}'.");
        var (width, height) = settings.ImageSize is { } size ? ImageShape.ParseSize(size)
            : pretrained is not null ? (pretrained.DefaultSize, pretrained.DefaultSize) : (28, 28);
        var options = new EdpCompressOptions
        {
            Architecture = settings.Architecture, OnnxModelPath = onnxModel, ImageChannels = settings.Channels ?? (pretrained is null ? 1 : 3),
            ImageWidth = width, ImageHeight = height, LatencyBatchSize = settings.BatchSize,
        };
        console.WriteLine(EdpLatencyProfile.Write(options, settings.Classes, settings.Output, line => console.WriteLine(line)));
        return ExitCodes.Success;
    }
}
