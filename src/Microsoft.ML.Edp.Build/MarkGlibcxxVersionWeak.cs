using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Microsoft.ML.Edp.Build;

/// <summary>Marks the <c>GLIBCXX_3.4.32</c> version requirement of each given ELF file weak, where the system's
/// libstdc++ lacks that version, so that glibc loads TorchSharp's <c>libLibTorchSharp.so</c> on Debian 12.</summary>
/// <remarks>
/// <para>TorchSharp 0.107's <c>libLibTorchSharp.so</c> was linked by GCC 13 and requires <c>GLIBCXX_3.4.32</c>, whose
/// only symbol, <c>std::ios_base_library_init</c>, nothing in the library references. A weak requirement lets glibc
/// load it against an older libstdc++.</para>
/// <para>A patched file is written anew and renamed over the given one: the output copy may be a hard link into the
/// NuGet cache, which must never change. The new file keeps the old one's mode and timestamp, so incremental copies
/// leave it alone. Missing files are skipped, and no failure fails the build: it is logged, and TorchSharp's own
/// error follows at run time.</para>
/// </remarks>
public sealed class MarkGlibcxxVersionWeak : Task
{
    internal const string Version = "GLIBCXX_3.4.32";

    private SystemLibstdcxx? _system;

    /// <summary>The ELF files to patch: the copies in a build or publish output folder.</summary>
    [Required]
    public ITaskItem[] Files { get; set; } = [];

    /// <summary>Where to look for the system's <c>libstdc++.so.6</c>; tests point it at their own folders.</summary>
    internal IEnumerable<string> LibstdcxxDirectories { get; set; } = SystemLibstdcxx.DefaultDirectories;

    public override bool Execute()
    {
        foreach (ITaskItem item in Files)
        {
            string path = item.GetMetadata("FullPath");
            if (!File.Exists(path))
                continue;
            try
            {
                PatchFile(path);
            }
            catch (Exception ex)
            {
                // A warning could fail builds that treat warnings as errors; this must never fail a build.
                Log.LogMessage(MessageImportance.High,
                    "Edp: could not patch '{0}' for {1}: {2}", path, Version, ex.Message);
            }
        }
        return true;
    }

    private void PatchFile(string path)
    {
        // The system is checked first, so that where nothing needs patching no library is ever parsed.
        _system ??= SystemLibstdcxx.Find(LibstdcxxDirectories, Version);
        if (!_system.LacksVersion)
        {
            Log.LogMessage(MessageImportance.Low, "Edp: left '{0}' unchanged: {1}.", path,
                _system.Path == null
                    ? "no libstdc++.so.6 found in the usual directories"
                    : "system libstdc++ (" + _system.Path + ") provides " + Version);
            return;
        }

        byte[] bytes = File.ReadAllBytes(path);
        int flagsOffset = ElfVersionNeeds.FindFlagsOffset(bytes, Version, out string reason);
        if (flagsOffset < 0)
        {
            Log.LogMessage(MessageImportance.Low, "Edp: left '{0}' unchanged: {1}.", path, reason);
            return;
        }

        ushort flags = (ushort)(bytes[flagsOffset] | bytes[flagsOffset + 1] << 8);
        if ((flags & ElfVersionNeeds.WeakFlag) != 0)
        {
            Log.LogMessage(MessageImportance.Low, "Edp: '{0}' already has {1} marked weak.", path, Version);
            return;
        }
        flags |= ElfVersionNeeds.WeakFlag;
        bytes[flagsOffset] = (byte)flags;
        bytes[flagsOffset + 1] = (byte)(flags >> 8);
        ReplaceContents(path, bytes);

        Log.LogMessage(MessageImportance.High,
            "Edp: marked the {0} version requirement weak in '{1}': the system libstdc++ ({2}) lacks {0}, "
            + "and the library only needs it for std::ios_base_library_init, which nothing references.",
            Version, path, _system.Path);
    }

    /// <summary>Writes <paramref name="bytes"/> to a new file beside <paramref name="path"/> and renames it over
    /// <paramref name="path"/>, so that whatever else <paramref name="path"/> was linked to keeps its bytes.</summary>
    private static void ReplaceContents(string path, byte[] bytes)
    {
        DateTime lastWriteUtc = File.GetLastWriteTimeUtc(path);
        string temp = Path.Combine(Path.GetDirectoryName(path)!,
            "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            // Copying first keeps the file mode, which netstandard2.0 has no API to set.
            File.Copy(path, temp);
            using (var stream = new FileStream(temp, FileMode.Truncate, FileAccess.Write))
                stream.Write(bytes, 0, bytes.Length);
            File.SetLastWriteTimeUtc(temp, lastWriteUtc);
            // On Unix, File.Replace without a backup is a rename(2) over the destination.
            File.Replace(temp, path, destinationBackupFileName: null);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }
}
