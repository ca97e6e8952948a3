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

    public string ToMarkdown(int threads) => $"Measured {Date} on {Cores} cores ({Cpu}), {Os}, {Runtime}; {threads} training threads.";
}
