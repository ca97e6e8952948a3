namespace Microsoft.ML.Edp;

/// <summary>The per-user cache folder for facts measured on this machine, which later fits reuse:
/// <c>$XDG_CACHE_HOME/Microsoft.ML.Edp</c> (or <c>~/.cache/Microsoft.ML.Edp</c>) on Linux and macOS, and
/// <c>%LOCALAPPDATA%\Microsoft.ML.Edp</c> on Windows. <c>EDP_CACHE_DIR</c> overrides it. Everything in it can be
/// deleted at any time; it is measured again.</summary>
internal static class UserCache
{
    public const string OverrideVariable = "EDP_CACHE_DIR";

    /// <summary>The folder for <paramref name="topic"/>, or null when no cache folder can be found.</summary>
    public static string? Folder(string topic)
    {
        var root = Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } own ? own
            : OperatingSystem.IsWindows() ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "Microsoft.ML.Edp")
            : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "Microsoft.ML.Edp")
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home ? Path.Combine(home, ".cache", "Microsoft.ML.Edp")
            : null;
        return root is null ? null : Path.Combine(root, topic);
    }

    /// <summary>Reads a cached file; null when it is absent or unreadable (a cache never fails a fit).</summary>
    public static string? Read(string? folder, string name)
    {
        if (folder is null)
            return null;
        try
        {
            var path = Path.Combine(folder, name);
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes a cached file atomically; false when the folder is not writable (a cache never fails a fit).</summary>
    public static bool Write(string? folder, string name, string text)
    {
        if (folder is null)
            return false;
        try
        {
            Directory.CreateDirectory(folder);
            AtomicFile.Write(Path.Combine(folder, name), System.Text.Encoding.UTF8.GetBytes(text));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
