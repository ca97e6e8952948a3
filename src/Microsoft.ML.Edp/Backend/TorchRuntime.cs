using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Backend;

/// <summary>Process-wide libtorch setup for a fit: OpenMP wait policy, oneDNN ISA cap, allocator, NNPACK, thread count,
/// seeds and device. Nothing runs when the assembly loads: an app that only scores never touches these settings.</summary>
internal static class TorchRuntime
{
    private static int _prepared;

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetNativeEnvironment(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallocOption(int parameter, int value);

    private const int MallocTrimThreshold = -1, MallocTopPad = -2, MallocMmapThreshold = -3;

    /// <summary>The environment a fit runs libtorch under; a variable the user set keeps the user's value.
    /// <list type="bullet">
    /// <item>libgomp reads OMP_WAIT_POLICY once, when libtorch loads; its default (spin) made two threads on two busy
    /// cores 9x slower than one thread.</item>
    /// <item>oneDNN reads ONEDNN_MAX_CPU_ISA once, at its first use. The AVX2 cap fixed wrong AVX-512 convolutions on an
    /// Intel Xeon; it did not on an AMD EPYC, which is why every fit also runs <see cref="BackendCheck"/>.</item>
    /// </list></summary>
    private static readonly (string Name, string Value)[] Defaults = [("OMP_WAIT_POLICY", "PASSIVE"), ("ONEDNN_MAX_CPU_ISA", "AVX2")];

    /// <summary>The variables above as they hold in this process, for a child process that must compute alike.</summary>
    public static IReadOnlyDictionary<string, string> ChildEnvironment
        => Defaults.ToDictionary(d => d.Name, d => Environment.GetEnvironmentVariable(d.Name) ?? d.Value);

    /// <summary>The oneDNN ISA cap in force (the user's, or the one a fit sets).</summary>
    public static string? OneDnnIsaCap => ChildEnvironment["ONEDNN_MAX_CPU_ISA"];

    /// <summary>Runs at the start of every fit, before its first torch call. Settings that libraries read once only
    /// reach them if this process has not used libtorch before; later fits find them in place. The user's own settings
    /// win. .NET's Environment.SetEnvironmentVariable does not reach native getenv on Unix, hence setenv.</summary>
    public static void PrepareProcess()
    {
        if (Interlocked.Exchange(ref _prepared, 1) == 1 || !OperatingSystem.IsLinux())
            return;
        try
        {
            foreach (var (name, value) in Defaults)
                SetNativeEnvironment(name, value, 0);
            KeepAllocatorMemory();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>libtorch frees each batch's activations (megabytes per layer) and glibc hands such blocks back to the
    /// kernel, so every batch page-faults them in again; on the 2-core VMs here that was half of all CPU time, in the
    /// kernel. Serving blocks up to 32 MB from the heap and not trimming it made an epoch 1.8x faster (8.6 s against
    /// 15.7 s for 10,000 images). Skipped when the user tunes glibc's allocator through the environment.</summary>
    private static void KeepAllocatorMemory()
    {
        if (Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal)))
            return;
        MallocOption(MallocMmapThreshold, 32 << 20);
        MallocOption(MallocTrimThreshold, 1 << 30);
        MallocOption(MallocTopPad, 64 << 20);
    }

    /// <summary>Prepares the process, turns NNPACK off (<see cref="LibTorchSwitches.TryDisableNnpack"/>), applies the
    /// thread count and seeds the global generators, so the same seed on one thread gives the same model.</summary>
    public static void Configure(int? threads, int seed)
    {
        PrepareProcess();
        torch.set_num_threads(threads ?? Environment.ProcessorCount);
        LibTorchSwitches.TryDisableNnpack();
        torch.random.manual_seed(seed);
    }

    /// <summary>Picks the training device. CUDA needs TorchSharp's CUDA backend and a GPU; without them,
    /// <paramref name="fallbackToCpu"/> decides between a warning and an error.</summary>
    public static Device SelectDevice(EdpDevice requested, bool fallbackToCpu, Action<string> warn)
    {
        PrepareProcess();
        if (requested == EdpDevice.Cpu)
            return CPU;
        if (cuda.is_available())
            return CUDA;
        const string reason = "CUDA was requested but TorchSharp reports no usable GPU (the app must reference TorchSharp-cuda-linux or TorchSharp-cuda-windows, e.g. build with -p:EdpTorchBackend=cuda, and the machine needs an NVIDIA driver)";
        if (!fallbackToCpu)
            throw new InvalidOperationException(reason + ". Set FallbackToCpu = true to train on the CPU instead.");
        warn(reason + "; training on the CPU.");
        return CPU;
    }
}
