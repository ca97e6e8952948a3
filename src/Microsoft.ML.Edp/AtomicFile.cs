namespace Microsoft.ML.Edp;

/// <summary>Writes files so that a reader never sees half of one: the bytes go to a temporary file in the same folder,
/// then a rename replaces the target. The edp tool compiles this same file for its output.</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> as UTF-8.</summary>
    public static void Write(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));

    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        // A span cannot enter the lambda; the copy is the size of the model, written once.
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Lets <paramref name="write"/> fill the temporary file, then renames it over <paramref name="path"/>.
    /// An exception from <paramref name="write"/> leaves the target as it was and no temporary file behind.</summary>
    /// <exception cref="IOException">The folder does not exist, is a file, or is not writable; the message names the target.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                write(stream);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new IOException($"Cannot write '{full}': expected a writable folder '{folder}', found {Describe(folder)} ({e.Message}).", e);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    /// <summary>Creates <paramref name="folder"/> if needed and checks that files can be created in it, so that a run
    /// fails before training rather than at its first checkpoint.</summary>
    public static void EnsureWritableFolder(string folder, string optionName)
    {
        var full = Path.GetFullPath(folder);
        try
        {
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $".edp-write-probe.{Guid.NewGuid():N}.tmp");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new IOException($"{optionName} '{full}' is not usable: expected a writable folder, found {Describe(full)} ({e.Message}).", e);
        }
    }

    private static string Describe(string folder)
    {
        if (File.Exists(folder))
            return "a file of that name";
        if (!Directory.Exists(folder))
            return "no such folder";
        return "a folder that refuses new files";
    }
}
