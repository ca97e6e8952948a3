using System.ComponentModel;
using Microsoft.ML.Edp.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Microsoft.ML.Edp.Cli.Commands;

/// <summary>Options of <c>edp report</c>.</summary>
public sealed class ReportSettings : CommandSettings
{
    /// <summary>An output folder of <c>edp compress</c>; its report.json is read, or the report inside model.zip when report.json is missing.</summary>
    [CommandArgument(0, "<DIR>")]
    [Description("An output folder of 'edp compress' (report.json or model.zip).")]
    public string Folder { get; init; } = "";
}

/// <summary><c>edp report</c>: re-renders report.md and the charts from report.json, or, when that is missing, from
/// the compression report embedded in model.zip (which then also restores report.json).</summary>
public sealed class ReportCommand(IAnsiConsole console) : Command<ReportSettings>
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, ReportSettings settings, CancellationToken cancellationToken)
    {
        string folder = settings.Folder;
        if (!Directory.Exists(folder))
            throw new CliException($"The folder '{folder}' does not exist.");
        string json = Path.Combine(folder, ReportWriter.JsonFile);
        string zip = Path.Combine(folder, CompressCommand.ModelFile);
        RunReport report;
        bool fromModel = false;
        if (File.Exists(json))
            report = RunReport.FromJson(File.ReadAllText(json), json);
        else if (File.Exists(zip))
        {
            try
            {
                report = new RunReport { ToolVersion = EdpApp.Version, CreatedUtc = DateTime.UtcNow, Compression = EdpModel.ReadReport(zip) };
            }
            catch (Exception e) when (e is InvalidDataException)
            {
                throw new CliException($"'{zip}' holds no EDP compression report: {e.Message}");
            }
            fromModel = true;
        }
        else
            throw new CliException($"The folder '{folder}' holds neither {ReportWriter.JsonFile} nor {CompressCommand.ModelFile}.");

        var charts = ReportWriter.Write(folder, report, writeJson: fromModel);
        console.WriteLine($"Wrote {ReportWriter.MarkdownFile} and {charts.Count} charts to '{folder}' from {(fromModel ? zip + " (data and validation sections need report.json)" : json)}.");
        return ExitCodes.Success;
    }
}
