using System.Globalization;
using Microsoft.ML.Edp.Cli.Codegen;
using Microsoft.ML.Edp.Cli.Data;
using Microsoft.ML.Edp.Cli.Output;
using Microsoft.ML.Edp.Cli.Progress;
using Microsoft.ML.Edp.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary><c>edp compress</c>: trains and compresses a classifier on a folder of labelled images and writes the model,
/// its ONNX file, the report, the charts and a consumption project.</summary>
public sealed class CompressCommand(IAnsiConsole console) : Command<CompressSettings>
{
    /// <summary>The saved ML.NET model's file name.</summary>
    public const string ModelFile = "model.zip";
    /// <summary>The ONNX model's file name.</summary>
    public const string OnnxFile = "model.onnx";

    private const long CacheLimitBytes = 1L << 30;

    /// <inheritdoc />
    public override int Execute(CommandContext context, CompressSettings settings, CancellationToken cancellationToken)
    {
        foreach (var data in new[] { settings.Dataset, settings.TestDataset })
            if (data is not null && IsWithin(data, settings.Output))
                throw new CliException($"The output folder '{settings.Output}' holds the data set '{data}'; choose an output folder outside the data.");
        // Found before the output folder is prepared, so that a missing package leaves nothing behind.
        var pretrained = settings.Pretrained is { } name ? PretrainedModel.Find(name)! : null;
        string? onnxModel = pretrained?.Resolve() ?? (settings.FromOnnx is null ? null : Path.GetFullPath(settings.FromOnnx));
        if (pretrained is not null)
            console.WriteLine($"Starting from {pretrained.Name} (package {pretrained.PackageId}): '{onnxModel}'.");
        var pixels = pretrained?.Pixels ?? PixelEncoding.Unit;
        using var output = OutputFolder.Prepare(settings.Output, settings.Force);

        var train = ImageFolderDataset.Scan(settings.Dataset);
        var test = settings.TestDataset is { } testFolder ? ImageFolderDataset.Scan(testFolder, "validation", minimumClasses: 1) : null;
        foreach (var skipped in train.SkippedFolders)
            console.WriteLine($"Skipped '{skipped}': no PNG or JPEG files in it.");
        var shape = ChooseShape(settings, pretrained, train, test);

        var (trainImages, validationImages) = test is null
            ? DatasetSplit.Stratified(train.Images, settings.ValidationFraction, settings.Seed)
            : (train.Images, test.Images);
        if (test is not null && test.Classes.Except(train.Classes, StringComparer.Ordinal).ToArray() is { Length: > 0 } unknown)
            throw new CliException($"The validation data set '{test.Root}' has class folder(s) the training data set lacks: '{string.Join("', '", unknown)}'.");
        string validationSource = test is null
            ? (settings.ValidationFraction > 0 ? $"{settings.ValidationFraction:P0} of each class held out (seed {settings.Seed})" : "none")
            : $"folder `{test.Root}`";
        console.WriteLine($"Data: {train.Images.Count} images in {train.Classes.Count} classes from '{train.Root}'; {trainImages.Count} for training, "
            + $"{validationImages.Count} for validation; network input {shape}, {pixels}.");

        var ml = new MLContext(settings.Seed);
        var shuffled = trainImages.ToArray();
        new Random(settings.Seed).Shuffle(shuffled);
        var trainRows = ImagePipeline.Rows(ml, shuffled);
        var validationRows = validationImages.Count > 0 ? ImagePipeline.Rows(ml, validationImages) : null;
        var preprocessing = ImagePipeline.Preprocessing(ml, shape, pixels).Fit(trainRows);
        var trainFeatures = preprocessing.Transform(trainRows);
        // Decoding and resizing every image again each epoch costs more than training a small net on it, so the pixels
        // are cached in memory when they fit in CacheLimitBytes; larger sets stream from disk, as the library does.
        if ((long)trainImages.Count * shape.Width * shape.Height * shape.Channels * sizeof(float) <= CacheLimitBytes)
            trainFeatures = ml.Data.Cache(trainFeatures, ImagePipeline.FeaturesColumn, ImagePipeline.LabelColumn);

        var progress = TrainingProgress.For(console);
        // Progress, the live rank/width included, arrives as EdpProgress events; the log brings only the warnings.
        ml.Log += (_, e) =>
        {
            if (e.Kind == Runtime.ChannelMessageKind.Warning)
                console.MarkupLine("[yellow]warning:[/] " + Markup.Escape(e.Message));
        };
        var options = new EdpCompressOptions
        {
            FeatureColumnName = ImagePipeline.FeaturesColumn,
            LabelColumnName = ImagePipeline.LabelColumn,
            ImageChannels = shape.Channels, ImageHeight = shape.Height, ImageWidth = shape.Width,
            Architecture = settings.Architecture,
            Epochs = settings.Epochs, BatchSize = Math.Min(settings.BatchSize, trainImages.Count),
            Seed = settings.Seed, NumberOfThreads = settings.Threads, Device = settings.Device,
            TargetMacsRatio = settings.TargetMacs ?? (settings.TargetParams is null && settings.TargetLatency is null ? new EdpCompressOptions().TargetMacsRatio : null),
            TargetParamsRatio = settings.TargetParams,
            TargetLatencyRatio = settings.TargetLatency,
            ChannelMultiple = settings.ChannelMultiple,
            OnnxModelPath = onnxModel,
            ValidationSet = validationRows is null ? null : preprocessing.Transform(validationRows),
            Progress = progress.OnProgress,
            CancellationToken = cancellationToken,
        };
        if (options.BatchSize < settings.BatchSize)
            console.WriteLine($"Batch size {settings.BatchSize} is larger than the {trainImages.Count} training images; using {options.BatchSize}.");
        int batches = (trainImages.Count + options.BatchSize - 1) / options.BatchSize;
        using var edp = progress.Run(settings.Epochs, batches, () => Fit(ml, options, trainFeatures, pretrained is null ? "--from-onnx" : $"--pretrained {pretrained.Name}"));
        var model = preprocessing.Append(edp);

        ml.Model.Save(model, trainRows.Schema, output.PathOf(ModelFile));
        edp.SaveOnnx(output.PathOf(OnnxFile));
        var classes = edp.Report.ClassNames;
        var validation = validationRows is null ? null
            : EvaluationSummary.Evaluate(ml, model, validationRows, classes, test is null ? "held-out images" : test.Root);

        var report = new RunReport
        {
            ToolVersion = EdpApp.Version,
            CreatedUtc = DateTime.UtcNow,
            Dataset = new DatasetSummary
            {
                Folder = train.Root,
                Classes = [.. classes],
                TrainingImages = classes.Select(c => trainImages.Count(i => i.Label == c)).ToArray(),
                ValidationImages = classes.Select(c => validationImages.Count(i => i.Label == c)).ToArray(),
                Validation = validationSource,
                Width = shape.Width, Height = shape.Height, Channels = shape.Channels,
                ResizedImages = trainImages.Concat(validationImages).Count(i => i.Width != shape.Width || i.Height != shape.Height),
            },
            Training = new TrainingSettings
            {
                Architecture = edp.Report.Architecture, Epochs = settings.Epochs, BatchSize = options.BatchSize,
                Seed = settings.Seed, Threads = settings.Threads, Device = settings.Device.ToString(),
            },
            Validation = validation,
            Compression = edp.Report,
        };
        ReportWriter.Write(output.Staging, report);
        ConsumptionProject.Write(output.PathOf(ConsumptionProject.FolderName), shape, pixels, classes);
        output.Commit();

        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"MACs kept {edp.Report.MacsRatio:P1}, parameters kept {edp.Report.ParamsRatio:P1}")
            + (validation is null ? "." : string.Create(CultureInfo.InvariantCulture, $"; validation accuracy {validation.Accuracy:P2} on {validation.Images} images.")));
        console.WriteLine($"Wrote {ModelFile}, {OnnxFile}, {ReportWriter.JsonFile}, {ReportWriter.MarkdownFile}, the charts and {ConsumptionProject.FolderName}/ to '{output.Target}'.");
        return ExitCodes.Success;
    }

    private static EdpCompressTransformer Fit(MLContext ml, EdpCompressOptions options, IDataView trainFeatures, string modelOption)
    {
        try
        {
            return ml.Transforms.CompressEdp(options).Fit(trainFeatures);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == nameof(EdpCompressOptions.TargetMacsRatio))
        {
            throw new CliException($"--target-macs {options.TargetMacsRatio}: {e.Message}");
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == nameof(EdpCompressOptions.TargetParamsRatio))
        {
            throw new CliException($"--target-params {options.TargetParamsRatio}: {e.Message}");
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == nameof(EdpCompressOptions.TargetLatencyRatio))
        {
            throw new CliException($"--target-latency {options.TargetLatencyRatio}: {e.Message}");
        }
        catch (EdpOnnxImportException e)
        {
            throw new CliException($"{modelOption}: {e.Message}");
        }
    }

    private static bool IsWithin(string path, string folder)
    {
        string p = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        string f = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return p.StartsWith(f, StringComparison.Ordinal);
    }

    private ImageShape ChooseShape(CompressSettings settings, PretrainedModel? pretrained, ImageFolderDataset train, ImageFolderDataset? test)
    {
        var all = test is null ? train.Images : train.Images.Concat(test.Images).ToArray();
        var sizes = all.GroupBy(i => (i.Width, i.Height)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key.Width).ToArray();
        var (width, height) = settings.ImageSize is { } text ? ImageShape.ParseSize(text)
            : pretrained is not null ? (pretrained.DefaultSize, pretrained.DefaultSize)
            : (Math.Min(sizes[0].Key.Width, 64), Math.Min(sizes[0].Key.Height, 64));
        // A pretrained backbone's first conv takes RGB; grayscale files are read as three equal planes.
        int channels = pretrained is null && (settings.Grayscale || all.All(i => i.Grayscale)) ? 1 : 3;
        var off = sizes.Where(s => s.Key != (width, height)).ToArray();
        if (off.Length > 0)
            console.WriteLine($"Resizing {off.Sum(s => s.Count())} of {all.Count} images to {width}x{height}: found "
                + string.Join(", ", off.Take(5).Select(s => $"{s.Count()} at {s.Key.Width}x{s.Key.Height}")) + (off.Length > 5 ? ", ..." : "") + ".");
        return new ImageShape(width, height, channels);
    }
}
