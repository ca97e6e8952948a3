using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Xunit;

namespace Microsoft.ML.Edp.Build.Tests;

public sealed class MarkGlibcxxVersionWeakTests : IDisposable
{
    private const string Version = MarkGlibcxxVersionWeak.Version;

    private readonly string _root = Directory.CreateTempSubdirectory("edp-build-tests-").FullName;
    private readonly TestBuildEngine _engine = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    [SupportedOSPlatform("linux")]
    public void PatchesAHardLinkedCopyOfTorchSharpsLibraryWithoutChangingItsTarget()
    {
        // The package folder stands in for the NuGet cache: the output copy is a hard link to its file, as MSBuild may make it.
        var package = Copy(TorchSharpLibrary.CachedPath, "package");
        var output = Path.Combine(Folder("bin"), "libLibTorchSharp.so");
        HardLink(package, output);
        var shipped = File.ReadAllBytes(package);
        var lastWrite = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(output, lastWrite);
        File.SetUnixFileMode(output, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead);

        Assert.True(Run(Libstdcxx(providesVersion: false), output));

        Assert.Equal(shipped, File.ReadAllBytes(package));
        var patched = File.ReadAllBytes(output);
        int flags = ElfVersionNeeds.FindFlagsOffset(shipped, Version, out _);
        int[] changed = Enumerable.Range(0, shipped.Length).Where(i => shipped[i] != patched[i]).ToArray();
        Assert.Equal([flags], changed);
        Assert.Equal(ElfVersionNeeds.WeakFlag, BitConverter.ToUInt16(patched, flags));
        Assert.Equal(lastWrite, File.GetLastWriteTimeUtc(output));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead, File.GetUnixFileMode(output));
        Assert.Equal(["libLibTorchSharp.so"], Directory.GetFiles(Path.GetDirectoryName(output)!).Select(Path.GetFileName));
        var message = Assert.Single(_engine.Messages, m => m.Importance == MessageImportance.High);
        Assert.Equal(
            $"Edp: marked the {Version} version requirement weak in '{output}': the system libstdc++ ({Path.Combine(_root, "system", "libstdc++.so.6")}) "
            + $"lacks {Version}, and the library only needs it for std::ios_base_library_init, which nothing references.",
            message.Message);

        // A second build finds it done.
        Assert.True(Run(Libstdcxx(providesVersion: false), output));
        Assert.Equal(patched, File.ReadAllBytes(output));
        Assert.Contains(_engine.Messages, m => m.Message == $"Edp: '{output}' already has {Version} marked weak.");
    }

    [Fact]
    public void LeavesTheLibraryWhereTheSystemProvidesTheVersion()
    {
        var output = Copy(TorchSharpLibrary.CachedPath, "bin");

        Assert.True(Run(Libstdcxx(providesVersion: true), output));

        Assert.Equal(File.ReadAllBytes(TorchSharpLibrary.CachedPath), File.ReadAllBytes(output));
        Assert.Contains(_engine.Messages, m => m.Message!.EndsWith($"provides {Version}."));
    }

    [Fact]
    public void LeavesTheLibraryWhenNoLibstdcxxIsFound()
    {
        var output = Copy(TorchSharpLibrary.CachedPath, "bin");

        Assert.True(Run([Folder("empty")], output));

        Assert.Equal(File.ReadAllBytes(TorchSharpLibrary.CachedPath), File.ReadAllBytes(output));
        Assert.Contains(_engine.Messages, m => m.Message == $"Edp: left '{output}' unchanged: no libstdc++.so.6 found in the usual directories.");
    }

    [Fact]
    public void PatchesOnlyTheVersionInASyntheticLibrary()
    {
        var (elf, flags) = SyntheticElf.Build(
            new VersionNeed("libc.so.6", ("GLIBC_2.2.5", 0)),
            new VersionNeed("libstdc++.so.6", ("GLIBCXX_3.4.30", 0), (Version, 1), ("CXXABI_1.3.13", 0)));
        var output = Write("bin", elf);

        Assert.True(Run(Libstdcxx(providesVersion: false), output));

        var expected = (byte[])elf.Clone();
        SyntheticElf.Write16(expected, flags[Version], 1 | ElfVersionNeeds.WeakFlag); // VER_FLG_BASE stays
        Assert.Equal(expected, File.ReadAllBytes(output));
    }

    [Theory]
    [InlineData("already weak", "Edp: '{0}' already has GLIBCXX_3.4.32 marked weak.")]
    [InlineData("absent", "Edp: left '{0}' unchanged: no GLIBCXX_3.4.32 version requirement.")]
    [InlineData("not ELF", "Edp: left '{0}' unchanged: not an ELF file.")]
    [InlineData("truncated", "Edp: left '{0}' unchanged: truncated file: expected 4 bytes at offset ")]
    public void LeavesFilesItCannotOrNeedNotPatchAndSaysWhy(string kind, string message)
    {
        var (elf, _) = SyntheticElf.Build(new VersionNeed("libstdc++.so.6", ("GLIBCXX_3.4.30", 0), (kind == "absent" ? "GLIBCXX_3.4.29" : Version, ElfVersionNeeds.WeakFlag)));
        byte[] file = kind switch
        {
            "not ELF" => "not a library"u8.ToArray(),
            "truncated" => elf[..(elf.Length - 2 * SyntheticElf.SectionHeaderSize)],
            _ => elf,
        };
        var output = Write("bin", file);

        Assert.True(Run(Libstdcxx(providesVersion: false), output));

        Assert.Equal(file, File.ReadAllBytes(output));
        Assert.Contains(_engine.Messages, m => m.Message!.StartsWith(string.Format(message, output)));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(output)!));
        Assert.Empty(_engine.Warnings);
        Assert.Empty(_engine.Errors);
    }

    [Fact]
    public void SkipsMissingFiles()
    {
        Assert.True(Run(Libstdcxx(providesVersion: false), Path.Combine(_root, "bin", "libLibTorchSharp.so")));
        Assert.Empty(_engine.Messages);
    }

    private bool Run(IEnumerable<string> libstdcxxDirectories, string file) =>
        new MarkGlibcxxVersionWeak
        {
            BuildEngine = _engine,
            Files = [new TaskItem(file)],
            LibstdcxxDirectories = libstdcxxDirectories,
        }.Execute();

    /// <summary>A folder holding a stand-in libstdc++.so.6: what the task reads of it is whether the version's name,
    /// NUL-terminated, appears in it.</summary>
    private string[] Libstdcxx(bool providesVersion)
    {
        var folder = Folder("system");
        var names = "GLIBCXX_3.4\0GLIBCXX_3.4.30\0GLIBCXX_3.4.320\0" + (providesVersion ? Version + "\0" : "");
        File.WriteAllText(Path.Combine(folder, "libstdc++.so.6"), names);
        return [Folder("missing"), folder];
    }

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private string Copy(string source, string folder)
    {
        var path = Path.Combine(Folder(folder), Path.GetFileName(source));
        File.Copy(source, path);
        return path;
    }

    private string Write(string folder, byte[] bytes)
    {
        var path = Path.Combine(Folder(folder), "libLibTorchSharp.so");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void HardLink(string existing, string link)
    {
        if (Link(existing, link) != 0)
            throw new IOException($"link('{existing}', '{link}') failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string link);
}
