using System.Text;

namespace Microsoft.ML.Edp.Build.Tests;

/// <summary>A library's version requirements on one needed file, as <c>readelf -V</c> lists them.</summary>
internal sealed record VersionNeed(string File, params (string Name, ushort Flags)[] Versions);

/// <summary>Builds minimal 64-bit little-endian ELF shared objects: a header, <c>.dynstr</c>, <c>.gnu.version_r</c>
/// and <c>.shstrtab</c>, with the section header table last (so that any truncation loses part of it).</summary>
internal static class SyntheticElf
{
    public const int SectionHeaderSize = 64;
    private const int HeaderSize = 64;

    /// <summary>The file, and the offset of each requirement's <c>vna_flags</c> field by version name.</summary>
    public static (byte[] File, Dictionary<string, int> FlagsOffsets) Build(params VersionNeed[] needs)
    {
        var dynstr = new StringTable();
        var needBytes = new List<byte>();
        var auxOffsets = new Dictionary<string, int>();
        ushort versionIndex = 2;
        for (int n = 0; n < needs.Length; n++)
        {
            var need = needs[n];
            int size = 16 + 16 * need.Versions.Length;
            Put16(needBytes, 1); // vn_version
            Put16(needBytes, (ushort)need.Versions.Length);
            Put32(needBytes, dynstr.Add(need.File));
            Put32(needBytes, 16); // vn_aux: the entries follow the Verneed
            Put32(needBytes, n == needs.Length - 1 ? 0u : (uint)size);
            for (int a = 0; a < need.Versions.Length; a++)
            {
                var (name, flags) = need.Versions[a];
                auxOffsets[name] = needBytes.Count;
                Put32(needBytes, ElfHash(name));
                Put16(needBytes, flags);
                Put16(needBytes, versionIndex++);
                Put32(needBytes, dynstr.Add(name));
                Put32(needBytes, a == need.Versions.Length - 1 ? 0u : 16u);
            }
        }

        var shstrtab = new StringTable();
        uint dynstrName = shstrtab.Add(".dynstr"), needsName = shstrtab.Add(".gnu.version_r"), shstrtabName = shstrtab.Add(".shstrtab");
        var file = new List<byte>(new byte[HeaderSize]);
        int dynstrAt = Append(file, dynstr.Bytes);
        int needsAt = Append(file, needBytes);
        int shstrtabAt = Append(file, shstrtab.Bytes);
        byte[][] sections =
        [
            new byte[SectionHeaderSize],
            SectionHeader(dynstrName, type: 3, dynstrAt, dynstr.Bytes.Count, link: 0, info: 0),
            SectionHeader(needsName, type: 0x6ffffffe, needsAt, needBytes.Count, link: 1, info: (uint)needs.Length),
            SectionHeader(shstrtabName, type: 3, shstrtabAt, shstrtab.Bytes.Count, link: 0, info: 0),
        ];
        while (file.Count % 8 != 0)
            file.Add(0);
        int tableAt = file.Count;
        foreach (var header in sections)
            file.AddRange(header);

        var bytes = file.ToArray();
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = 2; // ELFCLASS64
        bytes[5] = 1; // ELFDATA2LSB
        bytes[6] = 1; // EV_CURRENT
        Write16(bytes, 0x10, 3); // ET_DYN
        Write16(bytes, 0x12, 62); // EM_X86_64
        Write32(bytes, 0x14, 1);
        Write64(bytes, 0x28, (ulong)tableAt);
        Write16(bytes, 0x34, HeaderSize);
        Write16(bytes, 0x3A, SectionHeaderSize);
        Write16(bytes, 0x3C, (ushort)sections.Length);
        Write16(bytes, 0x3E, 3);
        return (bytes, auxOffsets.ToDictionary(p => p.Key, p => needsAt + p.Value + 4));
    }

    /// <summary>The file offset of section <paramref name="index"/>'s header.</summary>
    public static int SectionHeaderOffset(byte[] elf, int index) => (int)BitConverter.ToUInt64(elf, 0x28) + index * SectionHeaderSize;

    public static void Write16(byte[] b, int offset, ushort value) => BitConverter.TryWriteBytes(b.AsSpan(offset, 2), value);
    public static void Write32(byte[] b, int offset, uint value) => BitConverter.TryWriteBytes(b.AsSpan(offset, 4), value);
    public static void Write64(byte[] b, int offset, ulong value) => BitConverter.TryWriteBytes(b.AsSpan(offset, 8), value);

    private static byte[] SectionHeader(uint name, uint type, int offset, int size, uint link, uint info)
    {
        var h = new byte[SectionHeaderSize];
        Write32(h, 0, name);
        Write32(h, 4, type);
        Write64(h, 24, (ulong)offset);
        Write64(h, 32, (ulong)size);
        Write32(h, 40, link);
        Write32(h, 44, info);
        Write64(h, 48, type == 3 ? 1u : 8u); // sh_addralign
        return h;
    }

    private static int Append(List<byte> file, List<byte> section)
    {
        while (file.Count % 8 != 0)
            file.Add(0);
        int at = file.Count;
        file.AddRange(section);
        return at;
    }

    private static void Put16(List<byte> b, ushort v) => b.AddRange(BitConverter.GetBytes(v));
    private static void Put32(List<byte> b, uint v) => b.AddRange(BitConverter.GetBytes(v));

    /// <summary>The System V ELF hash the loader compares against <c>vna_hash</c>.</summary>
    private static uint ElfHash(string name)
    {
        uint h = 0;
        foreach (char c in name)
        {
            h = (h << 4) + c;
            uint g = h & 0xf0000000;
            if (g != 0)
                h ^= g >> 24;
            h &= ~g;
        }
        return h;
    }

    private sealed class StringTable
    {
        private readonly Dictionary<string, uint> _offsets = [];

        public List<byte> Bytes { get; } = [0];

        public uint Add(string s)
        {
            if (!_offsets.TryGetValue(s, out uint at))
            {
                at = (uint)Bytes.Count;
                Bytes.AddRange(Encoding.ASCII.GetBytes(s));
                Bytes.Add(0);
                _offsets[s] = at;
            }
            return at;
        }
    }
}
