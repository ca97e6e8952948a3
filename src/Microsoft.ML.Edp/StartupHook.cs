/// <summary>The .NET startup hook through which <see cref="Microsoft.ML.Edp.Backend.IsolatedProbe"/> runs its child
/// process. It does nothing unless that child's request is in the environment; the runtime requires this name, outside
/// any namespace.</summary>
internal static class StartupHook
{
    public static void Initialize() => Microsoft.ML.Edp.Backend.IsolatedProbe.RunIfRequested();
}
