using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace LispMobility.Platform.DataPlane.FastPath;

/// <summary>A BPF program as compiled: its entry name, its instructions, and the instructions that load a map (by name).</summary>
internal sealed record BpfImage(string Name, byte[] Instructions, (int Instruction, string Map)[] Maps);

/// <summary>The kernel refused a BPF step: <see cref="Errno"/> and, for a program load, the verifier's log.</summary>
public sealed class BpfException(int errno, string what, string? log = null)
    : IOException($"{what}: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}){(string.IsNullOrEmpty(log) ? "" : "; verifier: " + Tail(log))}")
{
    /// <summary>The errno.</summary>
    public int Errno { get; } = errno;

    private static string Tail(string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" | ", lines.Skip(Math.Max(0, lines.Length - 4)));
    }
}

/// <summary>
/// The <c>bpf(2)</c> commands the fast path uses, on raw descriptors: maps (create, update, delete, look up, walk),
/// program loads (maps written into the 64-bit loads that name them) and tcx links. Hand-written: the feed has no BPF
/// library for .NET, and these are a handful of fixed-layout calls (docs/packages.md).
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class Bpf
{
    public const uint MapHash = 1, MapArray = 2, MapPercpuArray = 6, MapLruHash = 9, MapLpmTrie = 11;
    public const uint NoPrealloc = 1;
    public const uint TcxIngress = 46, TcxEgress = 47;
    private const int MapCreate = 0, MapLookup = 1, MapUpdate = 2, MapDelete = 3, MapNextKey = 4, ProgLoad = 5, MapLookupAndDeleteBatch = 25, LinkCreate = 28;
    private const uint ProgSchedCls = 3;
    private const int Enoent = 2, E2big = 7, Enospc = 28;
    private static readonly long SysBpf = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 280 : 321;

    /// <summary>Creates a map; returns its descriptor.</summary>
    public static int CreateMap(uint type, int keySize, int valueSize, int maxEntries, uint flags, string name)
    {
        var attr = stackalloc byte[72];
        new Span<byte>(attr, 72).Clear();
        *(uint*)attr = type;
        *(uint*)(attr + 4) = (uint)keySize;
        *(uint*)(attr + 8) = (uint)valueSize;
        *(uint*)(attr + 12) = (uint)maxEntries;
        *(uint*)(attr + 16) = flags;
        Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), new Span<byte>(attr + 28, 15));
        var fd = Call(MapCreate, attr, 72);
        return fd >= 0 ? fd : throw new BpfException(Marshal.GetLastPInvokeError(), $"bpf map {name}: create");
    }

    /// <summary>Writes <paramref name="value"/> under <paramref name="key"/>; false when the map is full.</summary>
    public static bool Update(int map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        Element(MapUpdate, map, key, value, Enospc, E2big, "bpf map update");

    /// <summary>Deletes <paramref name="key"/>; false when it was not there.</summary>
    public static bool Delete(int map, ReadOnlySpan<byte> key) => Element(MapDelete, map, key, default, Enoent, Enoent, "bpf map delete");

    /// <summary>Reads <paramref name="key"/>'s value (every CPU's, one after the other, for a per-CPU map); false when absent.</summary>
    public static bool Lookup(int map, ReadOnlySpan<byte> key, Span<byte> value) => Element(MapLookup, map, key, value, Enoent, Enoent, "bpf map lookup");

    /// <summary>The key after <paramref name="key"/> (the first when it is empty); false at the end.</summary>
    public static bool NextKey(int map, ReadOnlySpan<byte> key, Span<byte> next) => Element(MapNextKey, map, key, next, Enoent, Enoent, "bpf map walk");

    /// <summary>
    /// Takes elements out of a hash map in one call (BPF_MAP_LOOKUP_AND_DELETE_BATCH, Linux 5.6): as many as
    /// <paramref name="keys"/> has room for (<paramref name="keySize"/> bytes each), their values beside them in
    /// <paramref name="values"/> (8 bytes each); returns how many. The kernel takes whole buckets: one that does not fit in
    /// the room left stays, with the rest, for the next call.
    /// </summary>
    public static int TakeBatch(int map, int keySize, Span<byte> keys, Span<byte> values)
    {
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            uint next = 0;
            var attr = stackalloc byte[56];
            new Span<byte>(attr, 56).Clear();
            *(ulong*)(attr + 8) = (ulong)&next;
            *(ulong*)(attr + 16) = (ulong)k;
            *(ulong*)(attr + 24) = (ulong)v;
            *(uint*)(attr + 32) = (uint)Math.Min(keys.Length / keySize, values.Length / 8);
            *(uint*)(attr + 36) = (uint)map;
            if (Call(MapLookupAndDeleteBatch, attr, 56) < 0)
            {
                // ENOENT: the walk reached the last bucket (the usual end, with what it took); ENOSPC: the first bucket did not fit.
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Enoent && errno != Enospc) throw new BpfException(errno, "bpf map batch take");
            }

            return (int)*(uint*)(attr + 32);
        }
    }

    /// <summary>Loads a tc program, its map loads pointed at <paramref name="maps"/>; returns its descriptor.</summary>
    public static int LoadProgram(BpfImage image, IReadOnlyDictionary<string, int> maps, string license)
    {
        var code = (byte[])image.Instructions.Clone();
        foreach (var (instruction, map) in image.Maps)
        {
            var at = instruction * 8;
            if (!maps.TryGetValue(map, out var fd)) throw new InvalidOperationException($"{image.Name}: no map {map}");
            code[at + 1] = (byte)((code[at + 1] & 0x0F) | (1 << 4)); // src_reg = BPF_PSEUDO_MAP_FD
            MemoryMarshal.Write(code.AsSpan(at + 4), fd);
        }

        // The first try without a log (it costs the verifier time); a refusal is loaded again with one, to say why.
        var licenseBytes = Encoding.ASCII.GetBytes(license + "\0");
        var loaded = Load(image.Name, code, licenseBytes, []);
        if (loaded >= 0) return loaded;
        var log = new byte[1 << 16];
        loaded = Load(image.Name, code, licenseBytes, log);
        return loaded >= 0 ? loaded : throw new BpfException(Marshal.GetLastPInvokeError(), $"bpf program {image.Name}: load", Encoding.ASCII.GetString(log).TrimEnd('\0'));
    }

    /// <summary>Attaches a tc program to an interface through a tcx link (Linux 6.6); closing the link detaches it.</summary>
    public static int AttachTcx(int program, int ifindex, uint attachType, string what)
    {
        var attr = stackalloc byte[64];
        new Span<byte>(attr, 64).Clear();
        *(uint*)attr = (uint)program;
        *(uint*)(attr + 4) = (uint)ifindex;
        *(uint*)(attr + 8) = attachType;
        var fd = Call(LinkCreate, attr, 64);
        return fd >= 0 ? fd : throw new BpfException(Marshal.GetLastPInvokeError(), $"attach {what} (tcx, Linux 6.6 or later)");
    }

    /// <summary>Closes a descriptor this class returned.</summary>
    public static void Close(int fd)
    {
        if (fd >= 0) _ = close(fd);
    }

    // One element command (the kernel writes into value for a lookup or a walk); false when it fails with one of the two
    // errnos that mean "absent" (or "full", for an update).
    private static bool Element(int command, int map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int absent, int alsoAbsent, string what)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var attr = stackalloc byte[32];
            new Span<byte>(attr, 32).Clear();
            *(uint*)attr = (uint)map;
            *(ulong*)(attr + 8) = (ulong)k;
            *(ulong*)(attr + 16) = (ulong)v;
            if (Call(command, attr, 32) >= 0) return true;
            var errno = Marshal.GetLastPInvokeError();
            return errno == absent || errno == alsoAbsent ? false : throw new BpfException(errno, what);
        }
    }

    private static int Load(string name, byte[] code, byte[] license, byte[] log)
    {
        fixed (byte* insns = code)
        fixed (byte* lic = license)
        fixed (byte* logBuffer = log)
        {
            var attr = stackalloc byte[128];
            new Span<byte>(attr, 128).Clear();
            *(uint*)attr = ProgSchedCls;
            *(uint*)(attr + 4) = (uint)(code.Length / 8);
            *(ulong*)(attr + 8) = (ulong)insns;
            *(ulong*)(attr + 16) = (ulong)lic;
            if (log.Length > 0)
            {
                *(uint*)(attr + 24) = 1;
                *(uint*)(attr + 28) = (uint)log.Length;
                *(ulong*)(attr + 32) = (ulong)logBuffer;
            }

            Encoding.ASCII.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), new Span<byte>(attr + 48, 15));
            return Call(ProgLoad, attr, 128);
        }
    }

    private static int Call(int command, byte* attr, uint size) => (int)syscall(SysBpf, command, attr, size);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, int command, byte* attr, uint size);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
