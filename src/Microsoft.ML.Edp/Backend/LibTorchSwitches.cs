using System.Runtime.InteropServices;

namespace Microsoft.ML.Edp.Backend;

/// <summary>libtorch's run-time switches for its CPU convolution libraries, which TorchSharp does not expose:
/// <c>at::globalContext().setUserEnabledMkldnn</c> (oneDNN) and <c>setUserEnabledNNPACK</c>. Both are read at every
/// conv dispatch, so they take effect at once. The entry points are the Itanium C++ names <c>libtorch_cpu</c> exports
/// on Linux and macOS; elsewhere the switches are unavailable and the methods say so.</summary>
internal static class LibTorchSwitches
{
    private const string Library = "libtorch_cpu";

    [DllImport(Library, EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(Library, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    [DllImport(Library, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    /// <summary>Whether libtorch may use oneDNN for float32 convolutions; null where the switch is unavailable.</summary>
    public static bool? OneDnnEnabled => Try(() => UserEnabledMkldnn(GlobalContext()));

    /// <summary>Turns oneDNN on or off for this process; false where the switch is unavailable.</summary>
    public static bool TrySetOneDnn(bool enabled) => Try(() => { SetUserEnabledMkldnn(GlobalContext(), enabled); return true; }) ?? false;

    /// <summary>Turns NNPACK off. It is only ever a fallback for convolutions that oneDNN does not take, and where it
    /// cannot initialise (CPUs its cpuinfo does not know) libtorch prints "Could not initialize NNPACK! Reason:
    /// Unsupported hardware" to stderr at every such conv.</summary>
    public static bool TryDisableNnpack() => Try(() => { SetUserEnabledNnpack(GlobalContext(), false); return true; }) ?? false;

    private static bool? Try(Func<bool> call)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
