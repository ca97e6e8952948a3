using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Options of <c>edp compress</c>.</summary>
public sealed class CompressSettings : CommandSettings
{
    /// <summary>The folder of training images, one subfolder per class; required.</summary>
    [CommandOption("--dataset <FOLDER>", isRequired: true)]
    [Description("Folder of training images: one subfolder per class, each holding PNG or JPEG files.")]
    public string Dataset { get; init; } = "";

    /// <summary>Where the results go; it must be absent or empty unless <see cref="Force"/> is set. Required.</summary>
    [CommandOption("--output <DIR>", isRequired: true)]
    [Description("Folder for model.zip, model.onnx, report.json, report.md, the charts and the consumption project. Must be absent or empty unless --force.")]
    public string Output { get; init; } = "";

    /// <summary>A folder of validation images with the training classes; null holds out <see cref="ValidationFraction"/> of the training images instead.</summary>
    [CommandOption("--test-dataset <FOLDER>")]
    [Description("Folder of validation images with the same class subfolders. Without it, --validation-fraction of the training images is held out.")]
    public string? TestDataset { get; init; }

    /// <summary>The fraction of each class held out for validation when <see cref="TestDataset"/> is null, in [0, 1); default 0.2.</summary>
    [CommandOption("--validation-fraction <FRACTION>")]
    [Description("Fraction of each class held out for validation when no --test-dataset is given; 0 holds out nothing.")]
    [DefaultValue(0.2)]
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>The size every image is resized to, as <c>WxH</c>; null takes the most common size in the data (at most 64x64),
    /// or 64x64 with <see cref="Pretrained"/>.</summary>
    [CommandOption("--image-size <WxH>")]
    [Description("Size the images are resized to, e.g. 28x28 or 32x32. Default: the most common size in the data set (at most 64x64); 64x64 with --pretrained.")]
    public string? ImageSize { get; init; }

    /// <summary>Convert every image to one grayscale channel; when false, grayscale is chosen only if every file is stored as
    /// grayscale and no <see cref="Pretrained"/> model (which takes RGB) is given.</summary>
    [CommandOption("--grayscale")]
    [Description("Convert images to one grayscale channel. Default: grayscale when every image is stored as grayscale, RGB otherwise; always RGB with --pretrained.")]
    public bool Grayscale { get; init; }

    /// <summary>The built-in network to train (not <see cref="EdpArchitecture.CustomVgg"/>, whose widths the tool does not take); ignored with <see cref="FromOnnx"/> or <see cref="Pretrained"/>.</summary>
    [CommandOption("--architecture <NAME>")]
    [Description("VggSmall (widths 16..64), VggMedium (widths 32..128), ResNet20 or ResNet56. Ignored with --from-onnx or --pretrained.")]
    [DefaultValue(EdpArchitecture.VggSmall)]
    public EdpArchitecture Architecture { get; init; } = EdpArchitecture.VggSmall;

    /// <summary>Passes over the training images, at least 1; default 5.</summary>
    [CommandOption("--epochs <N>")]
    [Description("Passes over the training images.")]
    [DefaultValue(5)]
    public int Epochs { get; init; } = 5;

    /// <summary>Images per training batch, at least 1; default 128, shrunk to the image count for smaller data sets.</summary>
    [CommandOption("--batch-size <N>")]
    [Description("Images per training batch.")]
    [DefaultValue(128)]
    public int BatchSize { get; init; } = 128;

    /// <summary><see cref="EdpCompressOptions.TargetMacsRatio"/>: the fraction of the plain network's MACs to keep, in (0, 1]; null keeps the library's default unless only <see cref="TargetParams"/> or <see cref="TargetLatency"/> is given.</summary>
    [CommandOption("--target-macs <RATIO>")]
    [Description("Fraction of the plain network's MACs to keep, e.g. 0.25. Default: 0.5, as in the library (none when only --target-params or --target-latency is given).")]
    public double? TargetMacs { get; init; }

    /// <summary><see cref="EdpCompressOptions.TargetParamsRatio"/>: the fraction of the plain network's parameters to keep, in (0, 1]; null sets no parameter budget.</summary>
    [CommandOption("--target-params <RATIO>")]
    [Description("Fraction of the plain network's parameters to keep; may be combined with --target-macs.")]
    public double? TargetParams { get; init; }

    /// <summary><see cref="EdpCompressOptions.TargetLatencyRatio"/>: the fraction of the plain network's ONNX Runtime latency to keep, in (0, 1], as the latency table measured on this machine predicts it at batch 1; null sets no latency budget.</summary>
    [CommandOption("--target-latency <RATIO>")]
    [Description("Fraction of the plain network's ONNX Runtime latency (batch 1, predicted from a table measured on this machine) to keep; may be combined with --target-macs (given without it, it is the only budget).")]
    public double? TargetLatency { get; init; }

    /// <summary>The multiple kept channels and ranks are rounded up to (<see cref="EdpCompressOptions.ChannelMultiple"/>); null uses the CPU's conv block.</summary>
    [CommandOption("--channel-multiple <N>")]
    [Description("Round kept channels and ranks up to a multiple of N; 1 keeps exactly what training kept. Default: the channel block of ONNX Runtime's conv kernels on this CPU (16 with AVX-512F, else 8).")]
    public int? ChannelMultiple { get; init; }

    /// <summary>An ONNX CNN to start from instead of <see cref="Architecture"/> (<see cref="EdpCompressOptions.OnnxModelPath"/>); the file must exist.</summary>
    [CommandOption("--from-onnx <FILE>")]
    [Description("Start from this ONNX CNN instead of --architecture: its weights start the training and its head is fitted to the classes. See docs/compressing-your-onnx-model.md.")]
    public string? FromOnnx { get; init; }

    /// <summary>A pretrained model to start from, found in the NuGet global packages folder (<see cref="PretrainedModel.Known"/>:
    /// <c>resnet18</c>, ML.NET's ResNet18 featurizer); not with <see cref="FromOnnx"/>.</summary>
    [CommandOption("--pretrained <NAME>")]
    [Description("Start from a pretrained model found in the NuGet packages folder: resnet18 (ML.NET's ImageNet ResNet18, package Microsoft.ML.DnnImageFeaturizer.ResNet18). Images are read as RGB, at 64x64 unless --image-size. Not with --from-onnx.")]
    public string? Pretrained { get; init; }

    /// <summary>The random seed of the validation split, the weight initialisation and the shuffling; default 1.</summary>
    [CommandOption("--seed <N>")]
    [Description("Random seed for the validation split, weight initialisation and shuffling.")]
    [DefaultValue(1)]
    public int Seed { get; init; } = 1;

    /// <summary>libtorch intra-op threads, at least 1; null uses one per core.</summary>
    [CommandOption("--threads <N>")]
    [Description("libtorch threads. Default: one per core.")]
    public int? Threads { get; init; }

    /// <summary>Where to train; <see cref="EdpDevice.Cuda"/> falls back to the CPU with a warning where no GPU is usable.</summary>
    [CommandOption("--device <DEVICE>")]
    [Description("cpu or cuda. cuda falls back to the CPU with a warning where no GPU is usable.")]
    [DefaultValue(EdpDevice.Cpu)]
    public EdpDevice Device { get; init; } = EdpDevice.Cpu;

    /// <summary>Replace a non-empty output folder.</summary>
    [CommandOption("--force")]
    [Description("Replace the contents of a non-empty output folder (only once the new results are complete).")]
    public bool Force { get; init; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (ValidationFraction is < 0 or >= 1)
            return ValidationResult.Error($"--validation-fraction must be in [0, 1); found {ValidationFraction}.");
        if (Epochs < 1)
            return ValidationResult.Error($"--epochs must be at least 1; found {Epochs}.");
        if (BatchSize < 1)
            return ValidationResult.Error($"--batch-size must be at least 1; found {BatchSize}.");
        if (Threads is < 1)
            return ValidationResult.Error($"--threads must be at least 1; found {Threads}.");
        if (Architecture == EdpArchitecture.CustomVgg)
            return ValidationResult.Error("--architecture CustomVgg needs conv widths, which the tool does not take; use VggSmall or VggMedium.");
        if (TargetMacs is { } t && (t <= 0 || t > 1))
            return ValidationResult.Error($"--target-macs must be in (0, 1]; found {t}.");
        if (TargetParams is { } p && (p <= 0 || p > 1))
            return ValidationResult.Error($"--target-params must be in (0, 1]; found {p}.");
        if (TargetLatency is { } l && (l <= 0 || l > 1))
            return ValidationResult.Error($"--target-latency must be in (0, 1]; found {l}.");
        if (ChannelMultiple is < 1)
            return ValidationResult.Error($"--channel-multiple must be at least 1; found {ChannelMultiple}.");
        if (FromOnnx is { } onnx && !File.Exists(onnx))
            return ValidationResult.Error($"--from-onnx '{onnx}': no such file.");
        if (Pretrained is { } name)
        {
            if (FromOnnx is not null)
                return ValidationResult.Error("--pretrained and --from-onnx both name the model to start from; give one of them.");
            if (PretrainedModel.Find(name) is null)
                return ValidationResult.Error(PretrainedModel.Unknown(name));
            if (Grayscale)
                return ValidationResult.Error($"--pretrained {name} takes 3-channel (RGB) images, and --grayscale asks for 1 channel; drop --grayscale (grayscale images are read as three equal channels).");
        }
        return ValidationResult.Success();
    }
}
