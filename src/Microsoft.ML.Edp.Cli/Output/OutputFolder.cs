namespace Microsoft.ML.Edp.Cli.Output;

/// <summary>The folder a command writes its results into. Everything goes into a hidden staging folder beside the
/// target first, and <see cref="Commit"/> renames it into place, so a failed run leaves no half-written output.</summary>
public sealed class OutputFolder : IDisposable
{
    private bool _committed;

    private OutputFolder(string target, string staging) => (Target, Staging) = (target, staging);

    /// <summary>The folder the results end up in.</summary>
    public string Target { get; }

    /// <summary>The staging folder the results are written to before <see cref="Commit"/>.</summary>
    public string Staging { get; }

    /// <summary>A path inside the staging folder.</summary>
    public string PathOf(string relative) => System.IO.Path.Combine(Staging, relative);

    /// <summary>Checks that <paramref name="target"/> may be written (empty, absent, or <paramref name="force"/>) and
    /// creates the staging folder beside it, so that an unwritable path fails before any training.</summary>
    public static OutputFolder Prepare(string target, bool force)
    {
        string full = System.IO.Path.GetFullPath(target.TrimEnd('/', '\\'));
        if (File.Exists(full))
            throw new CliException($"The output path '{target}' is a file; expected a folder (absent, empty, or replaced with --force).");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !force)
            throw new CliException($"The output folder '{target}' is not empty; use --force to replace its contents, or choose another folder.");
        string parent = System.IO.Path.GetDirectoryName(full) ?? throw new CliException($"The output path '{target}' has no parent folder.");
        string staging = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            Directory.CreateDirectory(parent);
            Directory.CreateDirectory(staging);
            File.WriteAllBytes(System.IO.Path.Combine(staging, ".write-check"), []);
            File.Delete(System.IO.Path.Combine(staging, ".write-check"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw new CliException($"Cannot write the output folder '{target}': {e.Message}");
        }
        return new OutputFolder(full, staging);
    }

    /// <summary>Moves the staged results into the target folder, replacing what was there (only reachable with --force
    /// or an empty folder). The old contents are moved aside first and deleted only after the new folder is in place.</summary>
    public void Commit()
    {
        string? aside = null;
        try
        {
            if (Directory.Exists(Target))
            {
                aside = Staging + ".old";
                Directory.Move(Target, aside);
            }
            Directory.Move(Staging, Target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (aside != null && !Directory.Exists(Target) && Directory.Exists(aside))
                Directory.Move(aside, Target);
            throw new CliException($"Cannot move the results into '{Target}': {e.Message}");
        }
        _committed = true;
        if (aside != null)
            TryDelete(aside);
    }

    /// <summary>Deletes the staging folder unless the results were committed.</summary>
    public void Dispose()
    {
        if (!_committed)
            TryDelete(Staging);
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
