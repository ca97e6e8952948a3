namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>Where and when results were measured.</summary>
public sealed record MachineInfo(string Date, int Cores, string Cpu, string Os, string Runtime)
{
    public static MachineInfo Current() => new(
        DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"),
        Environment.ProcessorCount,
        Backend.MachineIdentity.CpuDescription,
        System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);

    /// <summary><paramref name="text"/> with this user's home folder written as ~: committed results name no home folder.</summary>
    public static string WithoutHomeFolder(string text) => text.Replace(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "~");

    public string ToMarkdown(int threads) => $"Measured {Date} on {Cores} cores ({Cpu}), {Os}, {Runtime}; {threads} training threads.";
}
