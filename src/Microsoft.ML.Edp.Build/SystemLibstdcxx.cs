using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Microsoft.ML.Edp.Build;

/// <summary>The system's <c>libstdc++.so.6</c>, and whether it defines a given symbol version.</summary>
internal sealed class SystemLibstdcxx
{
    /// <summary>Where Debian-, Red Hat- and Arch-style systems keep it, for x64 and arm64.</summary>
    public static readonly IReadOnlyList<string> DefaultDirectories =
    [
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
        "/usr/lib64", "/lib64", "/usr/lib", "/lib",
    ];

    private readonly bool _providesVersion;

    private SystemLibstdcxx(string? path, bool providesVersion)
    {
        Path = path;
        _providesVersion = providesVersion;
    }

    /// <summary>The copy that provides the version, else the first one found; null when none was found.</summary>
    public string? Path { get; }

    /// <summary>True only when a libstdc++ was found and none of the copies found defines <c>version</c>: with no
    /// libstdc++ at all, nothing is known, so nothing should change.</summary>
    public bool LacksVersion => Path != null && !_providesVersion;

    /// <summary>Looks for <paramref name="version"/> (for example <c>GLIBCXX_3.4.32</c>) in each directory's
    /// <c>libstdc++.so.6</c>. A library that defines a version carries its name, NUL-terminated, in its string table.</summary>
    public static SystemLibstdcxx Find(IEnumerable<string> directories, string version)
    {
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        string? first = null;
        foreach (string directory in directories)
        {
            string candidate = System.IO.Path.Combine(directory, "libstdc++.so.6");
            if (!File.Exists(candidate))
                continue;
            try
            {
                first ??= candidate;
                if (Contains(File.ReadAllBytes(candidate), needle))
                    return new SystemLibstdcxx(candidate, providesVersion: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // An unreadable copy says nothing either way; the next directory may hold a readable one.
            }
        }
        return new SystemLibstdcxx(first, providesVersion: false);
    }

    private static bool Contains(byte[] haystack, byte[] needle)
    {
        int last = haystack.Length - needle.Length;
        for (int i = Array.IndexOf(haystack, needle[0]); i >= 0 && i <= last; i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            int j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return true;
        }
        return false;
    }
}
