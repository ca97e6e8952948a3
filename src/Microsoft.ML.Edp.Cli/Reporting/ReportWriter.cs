
namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>Writes report.json, the charts and report.md into a folder, each file atomically.</summary>
public static class ReportWriter
{
    /// <summary>report.json's file name.</summary>
    public const string JsonFile = "report.json";
    /// <summary>report.md's file name.</summary>
    public const string MarkdownFile = "report.md";

    /// <summary>Writes the report files into <paramref name="folder"/>; returns the chart file names.</summary>
    public static IReadOnlyList<string> Write(string folder, RunReport report, bool writeJson = true)
    {
        if (writeJson)
            AtomicFile.Write(Path.Combine(folder, JsonFile), report.ToJson());
        var charts = ReportCharts.Write(folder, report);
        AtomicFile.Write(Path.Combine(folder, MarkdownFile), ReportMarkdown.Render(report, charts));
        return charts;
    }
}
