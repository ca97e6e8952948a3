using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Process-wide libtorch setup: OpenMP wait policy, thread count, seeds and device.</summary>
internal static class TorchRuntime
{
    private static int _prepared;

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetNativeEnvironment(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallocOption(int parameter, int value);

    private const int MallocTrimThreshold = -1, MallocTopPad = -2, MallocMmapThreshold = -3;

    /// <summary>Runs when this assembly loads, so that it precedes the first conv even in code that calls TorchSharp
    /// directly after touching this library.</summary>
#pragma warning disable CA2255 // The native settings below only work before libtorch's first conv; nothing else runs early enough.
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad() => PrepareProcess();

    /// <summary>Must run before the first torch call. The user's own settings win in both cases.
    /// <list type="bullet">
    /// <item>libgomp reads OMP_WAIT_POLICY once, when libtorch loads; its default (spin) made two threads on two busy
    /// cores 9x slower than one thread.</item>
    /// <item>libtorch 2.10's oneDNN float32 convolutions give wrong results on AVX-512 machines for some shapes: a
    /// ResNet-20 trained to NaN in its first 10 batches, and pruned VGG shapes (23 -> 50 channels at 7x7) were off by
    /// 27 on outputs of 63. Capping oneDNN at AVX2 fixed both, so the cap is the default.</item>
    /// </list>
    /// .NET's Environment.SetEnvironmentVariable does not reach native getenv on Unix, hence setenv.</summary>
    public static void PrepareProcess()
    {
        if (Interlocked.Exchange(ref _prepared, 1) == 1 || !OperatingSystem.IsLinux())
            return;
        try
        {
            SetNativeEnvironment("OMP_WAIT_POLICY", "PASSIVE", 0);
            SetNativeEnvironment("ONEDNN_MAX_CPU_ISA", "AVX2", 0);
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

    /// <summary>Applies the thread count and seeds the global generators, so the same seed on one thread gives the same model.</summary>
    public static void Configure(int? threads, int seed)
    {
        PrepareProcess();
        torch.set_num_threads(threads ?? Environment.ProcessorCount);
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
