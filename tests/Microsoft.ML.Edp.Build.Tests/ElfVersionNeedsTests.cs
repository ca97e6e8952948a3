using Xunit;

namespace Microsoft.ML.Edp.Build.Tests;

public class ElfVersionNeedsTests
{
    private const string Version = MarkGlibcxxVersionWeak.Version;

    private static readonly VersionNeed Libc = new("libc.so.6", ("GLIBC_2.14", 0), ("GLIBC_2.2.5", 0));

    [Fact]
    public void FindsTheRequirementInTorchSharpsLibraryWhereReadelfListsIt()
    {
        var bytes = File.ReadAllBytes(TorchSharpLibrary.CachedPath);

        // `readelf -V` on TorchSharp 0.107.0's libLibTorchSharp.so: .gnu.version_r at 0x3f8f0, GLIBCXX_3.4.32's
        // Vernaux at 0x140 in it, GLIBCXX_3.4.30's at 0xd0, both with no flags. A TorchSharp upgrade fails this test:
        // recheck then whether the library still needs the fix.
        int offset = ElfVersionNeeds.FindFlagsOffset(bytes, Version, out string reason);
        Assert.Equal(0x3f8f0 + 0x140 + 4, offset);
        Assert.Equal("", reason);
        Assert.Equal(0, BitConverter.ToUInt16(bytes, offset));
        Assert.Equal(0x3f8f0 + 0xd0 + 4, ElfVersionNeeds.FindFlagsOffset(bytes, "GLIBCXX_3.4.30", out _));
    }

    [Fact]
    public void FindsEachRequirementOfEachNeededFile()
    {
        var (elf, flags) = SyntheticElf.Build(Libc, new VersionNeed("libstdc++.so.6", ("GLIBCXX_3.4.30", 0), (Version, 0), ("CXXABI_1.3.13", 0)));

        foreach (var (name, offset) in flags)
        {
            Assert.Equal(offset, ElfVersionNeeds.FindFlagsOffset(elf, name, out string reason));
            Assert.Equal("", reason);
        }
    }

    [Theory]
    [InlineData("GLIBCXX_3.4.3")] // a prefix of a listed name
    [InlineData("GLIBCXX_3.4.320")] // a listed name is a prefix of it
    [InlineData("libstdc++.so.6")] // a needed file's name, not a version
    public void AbsentVersionHasNoRequirement(string version)
    {
        var (elf, _) = SyntheticElf.Build(Libc, new VersionNeed("libstdc++.so.6", (Version, 0)));

        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, version, out string reason));
        Assert.Equal($"no {version} version requirement", reason);
    }

    [Fact]
    public void FileWithoutVersionRequirementsSaysSo()
    {
        var (elf, _) = SyntheticElf.Build(Libc);
        SyntheticElf.Write32(elf, SyntheticElf.SectionHeaderOffset(elf, 2) + 4, 1); // .gnu.version_r becomes PROGBITS

        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, Version, out string reason));
        Assert.Equal("no SHT_GNU_verneed section", reason);
    }

    [Fact]
    public void NonElfFilesAreNamedAsSuch()
    {
        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset("#!/bin/sh\necho GLIBCXX_3.4.32\n"u8.ToArray(), Version, out string reason));
        Assert.Equal("not an ELF file", reason);
        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset([], Version, out reason));
        Assert.Equal("not an ELF file", reason);

        var (elf, _) = SyntheticElf.Build(Libc);
        elf[4] = 1; // ELFCLASS32
        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, Version, out reason));
        Assert.Equal("not a 64-bit little-endian ELF file (class 1, data encoding 1)", reason);
    }

    [Fact]
    public void EveryTruncationGivesAReasonOrTheRightOffset()
    {
        var (elf, flags) = SyntheticElf.Build(Libc, new VersionNeed("libstdc++.so.6", (Version, 0)));

        for (int length = 0; length < elf.Length; length++)
        {
            int offset = ElfVersionNeeds.FindFlagsOffset(elf[..length], Version, out string reason);
            // The last bytes the search reads are .gnu.version_r's sh_link (bytes 40-43 of its header, the table's third).
            if (length >= SyntheticElf.SectionHeaderOffset(elf, 2) + 44)
                Assert.Equal(flags[Version], offset);
            else
            {
                Assert.Equal(-1, offset);
                Assert.True(reason is "not an ELF file" || reason.StartsWith("truncated file: "), $"{length} bytes: {reason}");
            }
        }
    }

    [Fact]
    public void SectionPastTheEndOfTheFileIsTruncation()
    {
        var (elf, _) = SyntheticElf.Build(Libc);
        SyntheticElf.Write64(elf, SyntheticElf.SectionHeaderOffset(elf, 2) + 32, (ulong)elf.Length); // sh_size

        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, Version, out string reason));
        Assert.StartsWith("truncated file: the SHT_GNU_verneed section spans bytes ", reason);
    }

    [Fact]
    public void EntriesOutsideTheirSectionAreMalformed()
    {
        var (elf, flags) = SyntheticElf.Build(Libc);
        int needs = flags["GLIBC_2.14"] - 4 - 16;
        SyntheticElf.Write32(elf, needs + 8, 4096); // vn_aux far past the section

        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, Version, out string reason));
        Assert.Equal($"malformed SHT_GNU_verneed section: a Elf64_Vernaux entry at offset {needs + 4096} lies outside it", reason);
    }

    [Fact]
    public void LinkToAMissingStringTableIsMalformed()
    {
        var (elf, _) = SyntheticElf.Build(Libc);
        SyntheticElf.Write32(elf, SyntheticElf.SectionHeaderOffset(elf, 2) + 40, 9); // sh_link

        Assert.Equal(-1, ElfVersionNeeds.FindFlagsOffset(elf, Version, out string reason));
        Assert.Equal("the SHT_GNU_verneed section links to section 9, but there are 4", reason);
    }
}
