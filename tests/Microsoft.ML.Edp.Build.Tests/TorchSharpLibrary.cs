using System.Reflection;

namespace Microsoft.ML.Edp.Build.Tests;

/// <summary>TorchSharp's own <c>libLibTorchSharp.so</c>, as restored into the NuGet cache. Tests read it or copy it;
/// they never write to it.</summary>
internal static class TorchSharpLibrary
{
    public static string CachedPath { get; } = typeof(TorchSharpLibrary).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "LibTorchSharp").Value!;
}
