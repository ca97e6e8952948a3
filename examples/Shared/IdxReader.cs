using System.Buffers.Binary;
using System.IO.Compression;

namespace Microsoft.ML.Edp.Samples;

/// <summary>Reads the IDX files of MNIST and Fashion-MNIST (unsigned-byte payloads, gzipped or not).</summary>
public static class IdxReader
{
    private const int UnsignedByteType = 0x08;

    /// <summary>Reads an IDX file of unsigned bytes.</summary>
    /// <returns>The dimensions (the first is the item count) and the payload, row-major.</returns>
    /// <exception cref="InvalidDataException">The file is not an unsigned-byte IDX file or is truncated.</exception>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> magic = stackalloc byte[4];
        ReadExactly(stream, magic, path);
        if (magic[0] != 0 || magic[1] != 0 || magic[2] != UnsignedByteType || magic[3] is 0 or > 4)
            throw new InvalidDataException($"'{path}' is not an unsigned-byte IDX file: magic bytes {Convert.ToHexString(magic)}, expected 000008 followed by a rank of 1 to 4.");
        var dims = new int[magic[3]];
        Span<byte> dim = stackalloc byte[4];
        long total = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            ReadExactly(stream, dim, path);
            dims[i] = checked((int)BinaryPrimitives.ReadUInt32BigEndian(dim));
            total *= dims[i];
        }
        if (total > Array.MaxLength)
            throw new InvalidDataException($"'{path}' declares {total} bytes of data, more than one array can hold.");
        var data = new byte[total];
        ReadExactly(stream, data, path);
        return (dims, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string path)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException) { throw new InvalidDataException($"'{path}' is truncated: expected {buffer.Length} more bytes."); }
    }
}
