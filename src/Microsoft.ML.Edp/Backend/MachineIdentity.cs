using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.Edp.Backend;

/// <summary>What makes two machines compute alike: the CPU (vendor, family, model, stepping, name and feature flags),
/// the libtorch version and the oneDNN ISA cap in force. Verdicts and measurements are cached under its hash.</summary>
internal sealed record MachineIdentity(string Cpu, string CpuFlagsHash, string LibTorch, string OneDnnIsaCap)
{
    /// <summary>The CPU's name for reports, e.g. "AuthenticAMD AMD EPYC (family 26, model 2)".</summary>
    public static string CpuDescription => Current(null).Cpu;

    public static MachineIdentity Current(string? libTorchVersion)
    {
        var fields = CpuInfo();
        string Field(string name) => fields.GetValueOrDefault(name, "?");
        string cpu = fields.Count == 0 ? $"{RuntimeInformation.ProcessArchitecture} ({Environment.ProcessorCount} cores)"
            : $"{Field("vendor_id")} {Field("model name")} (family {Field("cpu family")}, model {Field("model")}, stepping {Field("stepping")})";
        var flags = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Field("flags"))))[..16];
        return new MachineIdentity(cpu, flags, libTorchVersion ?? "?", TorchRuntime.OneDnnIsaCap ?? "none");
    }

    /// <summary>A file-name-safe hash of the whole identity.</summary>
    public string HashKey() => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ToString())))[..24].ToLowerInvariant();

    /// <summary>The first processor's fields from /proc/cpuinfo; empty where there is none.</summary>
    private static Dictionary<string, string> CpuInfo()
    {
        var fields = new Dictionary<string, string>();
        try
        {
            if (!File.Exists("/proc/cpuinfo"))
                return fields;
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.Length == 0)
                    break;
                int colon = line.IndexOf(':');
                if (colon > 0)
                    fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }
        catch (IOException) { }
        return fields;
    }
}
