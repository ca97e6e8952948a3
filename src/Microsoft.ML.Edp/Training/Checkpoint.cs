using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Edp.Training;

/// <summary>Where a training run stands at the end of an epoch, beside the tensors a <see cref="Checkpoint"/> holds.</summary>
/// <param name="Fingerprint">The options and data the run was started with; a resume must match it.</param>
/// <param name="Epoch">The last completed epoch (1-based).</param>
/// <param name="Step">Optimizer steps taken so far: the schedules' position.</param>
/// <param name="ShuffleDraws">Values drawn so far from the seed sequence that seeds each epoch's shuffle.</param>
/// <param name="Epochs">The reports of the completed epochs.</param>
internal sealed record CheckpointProgress(string Fingerprint, int Epoch, long Step, int ShuffleDraws, EdpEpochReport[] Epochs);

/// <summary>One file holding everything needed to continue training as if it had never stopped: the module's
/// parameters and buffers, the optimizer's state (SGD momentum buffers), libtorch's default generator, the progress
/// record, and any extra named tensors the trainer keeps (such as frozen sparsity masks). Works on any module and any
/// TorchSharp managed optimizer; written atomically, so a crash during a save leaves the previous checkpoint intact.</summary>
internal static class Checkpoint
{
    private const string Magic = "Microsoft.ML.Edp checkpoint";
    private const int FormatVersion = 1;

    public static void Save(string path, nn.Module module, OptimizerHelper optimizer, CheckpointProgress progress, IReadOnlyDictionary<string, Tensor> extra)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(JsonSerializer.Serialize(progress));
            using (var rng = torch.random.get_rng_state())
                WriteBytes(writer, rng.data<byte>().ToArray());
            writer.Write(extra.Count);
            foreach (var (name, tensor) in extra.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                writer.Write(name);
                WriteTensor(writer, tensor);
            }
            module.save(writer);
            optimizer.save_state_dict(writer);
        });
    }

    /// <summary>Reads the progress record alone, without touching any module.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint; the message names it.</exception>
    public static CheckpointProgress ReadProgress(string path)
        => Guard(path, () =>
        {
            using var reader = OpenReader(path, out var stream);
            using (stream)
                return ReadHeader(reader, path);
        });

    /// <summary>Restores <paramref name="module"/>, <paramref name="optimizer"/> and libtorch's default generator from
    /// <paramref name="path"/> in place, and returns the progress record and the extra tensors (on the CPU; the caller
    /// disposes them).</summary>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint for this module; the message names it.</exception>
    public static (CheckpointProgress Progress, Dictionary<string, Tensor> Extra) Load(string path, nn.Module module, OptimizerHelper optimizer)
        => Guard(path, () =>
        {
            using var reader = OpenReader(path, out var stream);
            using (stream)
            {
                var progress = ReadHeader(reader, path);
                var rng = ReadBytes(reader);
                var extra = new Dictionary<string, Tensor>();
                int count = reader.ReadInt32();
                for (int i = 0; i < count; i++)
                    extra[reader.ReadString()] = ReadTensor(reader);
                module.load(reader, strict: true);
                optimizer.load_state_dict(reader);
                if (stream.Position != stream.Length)
                    throw new InvalidDataException($"{stream.Length - stream.Position} bytes follow the optimizer state, expected none");
                using (var state = torch.empty(rng.Length, ScalarType.Byte))
                {
                    state.bytes = rng;
                    torch.random.set_rng_state(state);
                }
                return (progress, extra);
            }
        });

    private static BinaryReader OpenReader(string path, out FileStream stream)
    {
        stream = File.OpenRead(path);
        return new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
    }

    private static CheckpointProgress ReadHeader(BinaryReader reader, string path)
    {
        var magic = reader.ReadString();
        if (magic != Magic)
            throw new InvalidDataException($"it starts with '{Truncate(magic)}', expected '{Magic}'");
        int version = reader.ReadInt32();
        if (version != FormatVersion)
            throw new InvalidDataException($"format version {version}, expected {FormatVersion}");
        return JsonSerializer.Deserialize<CheckpointProgress>(reader.ReadString())
            ?? throw new InvalidDataException("its progress record is null");
    }

    // Every failure while reading (short file, flipped bytes, another module's tensors) becomes one exception type
    // that names the file, so callers need not know TorchSharp's or the JSON reader's exceptions.
    private static T Guard<T>(string path, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException or JsonException or ArgumentException or FormatException or OverflowException or ExternalException or InvalidOperationException)
        {
            throw new InvalidDataException($"Checkpoint '{Path.GetFullPath(path)}' cannot be read: {e.Message.TrimEnd('.')}. Expected a checkpoint written by this version of Microsoft.ML.Edp for the same network; delete it or set ResumeFromCheckpoint = false to start over.", e);
        }
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position)
            throw new InvalidDataException($"a block of {length} bytes, more than the file holds");
        return reader.ReadBytes(length);
    }

    // Float32 for weights and masks; float64 stays float64 (the budget controller's state must resume exactly).
    private static void WriteTensor(BinaryWriter writer, Tensor tensor)
    {
        var type = tensor.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var cpu = tensor.detach().to(CPU).to_type(type).contiguous();
        writer.Write(cpu.shape.Length);
        foreach (var d in cpu.shape)
            writer.Write(d);
        writer.Write((byte)cpu.ElementSize);
        writer.Write(checked((int)cpu.numel()));
        writer.Write(cpu.bytes);
    }

    private static Tensor ReadTensor(BinaryReader reader)
    {
        int rank = reader.ReadInt32();
        if (rank is < 0 or > 8)
            throw new InvalidDataException($"a tensor of rank {rank}, expected 0 to 8");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++)
            shape[i] = reader.ReadInt64();
        int elementSize = reader.ReadByte();
        if (elementSize is not (4 or 8))
            throw new InvalidDataException($"a tensor of {elementSize}-byte values, expected 4 (float32) or 8 (float64)");
        int count = reader.ReadInt32();
        if (count < 0 || (long)count * elementSize > reader.BaseStream.Length - reader.BaseStream.Position || shape.Aggregate(1L, (a, b) => a * b) != count)
            throw new InvalidDataException($"a tensor of shape [{string.Join(",", shape)}] with {count} values");
        // libtorch owns the memory: a tensor over a managed array (torch.tensor(float[], shape)) that outlived this
        // call corrupted the native heap once the GC finalised it (NaN losses in the next fit of the process).
        var result = torch.empty(shape, elementSize == 8 ? ScalarType.Float64 : ScalarType.Float32);
        result.bytes = reader.ReadBytes(count * elementSize);
        return result;
    }
}
