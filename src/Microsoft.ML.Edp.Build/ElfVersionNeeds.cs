using System;
using System.Text;

namespace Microsoft.ML.Edp.Build;

/// <summary>Finds one version requirement (an <c>Elf64_Vernaux</c> entry in the <c>SHT_GNU_verneed</c> section) of a
/// 64-bit little-endian ELF file, the format of every <c>libLibTorchSharp.so</c> TorchSharp ships for Linux.</summary>
/// <remarks>Neither maintained .NET ELF library models this section: ELFSharp reads the section table but not version
/// requirements nor a section's link, and LibObjectFile keeps the section as raw bytes (and targets net8.0 and later,
/// which not every MSBuild loads). Walking it here keeps the task free of dependencies inside MSBuild, and patching one
/// field in place leaves every other byte of the file as shipped. Every read is bounds-checked, so a truncated or
/// malformed file yields a reason, never an exception.</remarks>
internal static class ElfVersionNeeds
{
    /// <summary><c>VER_FLG_WEAK</c>: the loader accepts the library when the needed object lacks this version.</summary>
    public const ushort WeakFlag = 2;

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const int SectionHeaderSize = 64;
    private const int VerneedSize = 16;
    private const int VernauxSize = 16;

    /// <summary>Returns the file offset of the <c>vna_flags</c> field of the requirement named <paramref name="version"/>,
    /// or -1 with <paramref name="reason"/> saying why there is none.</summary>
    public static int FindFlagsOffset(byte[] file, string version, out string reason)
    {
        try
        {
            return Find(new Reader(file), Encoding.ASCII.GetBytes(version), out reason);
        }
        catch (OutOfFileException e)
        {
            reason = e.Message;
            return -1;
        }
    }

    private static int Find(Reader elf, byte[] version, out string reason)
    {
        if (elf.Length < 4 || elf.Byte(0) != 0x7f || elf.Byte(1) != 'E' || elf.Byte(2) != 'L' || elf.Byte(3) != 'F')
        {
            reason = "not an ELF file";
            return -1;
        }
        if (elf.Byte(4) != 2 || elf.Byte(5) != 1)
        {
            reason = $"not a 64-bit little-endian ELF file (class {elf.Byte(4)}, data encoding {elf.Byte(5)})";
            return -1;
        }

        long tableOffset = (long)elf.U64(0x28);
        int entrySize = elf.U16(0x3A);
        long count = elf.U16(0x3C);
        if (tableOffset == 0)
        {
            reason = "no section headers";
            return -1;
        }
        if (entrySize < SectionHeaderSize)
        {
            reason = $"section header entries of {entrySize} bytes, expected at least {SectionHeaderSize}";
            return -1;
        }
        if (count == 0)
            count = (long)elf.U64(tableOffset + 32); // More than 0xff00 sections: section 0's sh_size holds the count.

        for (long i = 0; i < count; i++)
        {
            long header = tableOffset + i * entrySize;
            if (elf.U32(header + 4) != ShtGnuVerneed)
                continue;

            var needs = elf.Section(header, "SHT_GNU_verneed section");
            uint link = elf.U32(header + 40);
            if (link >= count)
            {
                reason = $"the SHT_GNU_verneed section links to section {link}, but there are {count}";
                return -1;
            }
            var names = elf.Section(tableOffset + link * entrySize, "string table of the SHT_GNU_verneed section");
            long flags = FindInNeeds(elf, needs, names, version);
            reason = flags < 0 ? $"no {Encoding.ASCII.GetString(version)} version requirement" : "";
            return (int)flags;
        }

        reason = "no SHT_GNU_verneed section";
        return -1;
    }

    /// <summary>Walks the <c>Elf64_Verneed</c> list (one per needed library) and each one's <c>Elf64_Vernaux</c> list
    /// (one per version), following the <c>vn_next</c>/<c>vna_next</c> byte offsets until they are 0.</summary>
    private static long FindInNeeds(Reader elf, Range needs, Range names, byte[] version)
    {
        for (long need = needs.Start; ; )
        {
            needs.Check(need, VerneedSize, "Elf64_Verneed entry");
            int auxCount = elf.U16(need + 2);
            long aux = need + elf.U32(need + 8);
            for (int a = 0; a < auxCount; a++)
            {
                needs.Check(aux, VernauxSize, "Elf64_Vernaux entry");
                if (elf.NameEquals(names, elf.U32(aux + 8), version))
                    return aux + 4;
                uint nextAux = elf.U32(aux + 12);
                if (nextAux == 0)
                    break;
                aux += nextAux;
            }
            uint next = elf.U32(need + 12);
            if (next == 0)
                return -1;
            need += next;
        }
    }

    /// <summary>A section's bytes in the file.</summary>
    private readonly struct Range(long start, long size, string what)
    {
        public long Start { get; } = start;

        public bool Contains(long offset) => offset >= Start && offset < Start + size;

        public void Check(long offset, long length, string entry)
        {
            if (offset < Start || offset + length > Start + size)
                throw new OutOfFileException($"malformed {what}: a {entry} at offset {offset} lies outside it");
        }
    }

    private sealed class OutOfFileException(string message) : Exception(message);

    /// <summary>Little-endian reads that throw <see cref="OutOfFileException"/> rather than read past the end.</summary>
    private readonly struct Reader(byte[] bytes)
    {
        public long Length => bytes.Length;

        public byte Byte(long offset) => bytes[Checked(offset, 1)];

        public ushort U16(long offset)
        {
            int o = Checked(offset, 2);
            return (ushort)(bytes[o] | bytes[o + 1] << 8);
        }

        public uint U32(long offset)
        {
            int o = Checked(offset, 4);
            return (uint)(bytes[o] | bytes[o + 1] << 8 | bytes[o + 2] << 16 | bytes[o + 3] << 24);
        }

        public ulong U64(long offset) => U32(offset) | (ulong)U32(offset + 4) << 32;

        /// <summary>The file range of the section whose header starts at <paramref name="header"/>.</summary>
        public Range Section(long header, string what)
        {
            ulong offset = U64(header + 24);
            ulong size = U64(header + 32);
            if (offset > (ulong)bytes.Length || size > (ulong)bytes.Length - offset)
                throw new OutOfFileException(
                    $"truncated file: the {what} spans bytes {offset} to {offset + size}, but the file has {bytes.Length}");
            return new Range((long)offset, (long)size, what);
        }

        /// <summary>Whether the NUL-terminated string at <paramref name="index"/> in <paramref name="names"/> is
        /// <paramref name="name"/>.</summary>
        public bool NameEquals(Range names, uint index, byte[] name)
        {
            long start = names.Start + index;
            names.Check(start, 1, "version name");
            for (int i = 0; i <= name.Length; i++)
            {
                if (!names.Contains(start + i))
                    return false; // A name cut off by the table's end matches nothing.
                if (bytes[start + i] != (i < name.Length ? name[i] : 0))
                    return false;
            }
            return true;
        }

        private int Checked(long offset, int length)
        {
            if (offset < 0 || offset + length > bytes.Length)
                throw new OutOfFileException(
                    $"truncated file: expected {length} bytes at offset {offset}, but the file has {bytes.Length}");
            return (int)offset;
        }
    }
}
