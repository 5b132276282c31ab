using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.Caching;

/// <summary>
/// An immutable longest-prefix-match view of the map-cache that any thread reads without a lock (the data plane's).
/// Per address family and instance ID, one table per mask length in use, each split into 256 immutable hash slices;
/// a change copies one slice and the arrays above it (path copying), so publishing costs about the size of a slice, not
/// of the cache. A lookup probes only the mask lengths in use, longest first, and allocates nothing.
/// </summary>
public sealed class MapCacheSnapshot
{
    private const int ShardBits = 8;

    /// <summary>The empty snapshot.</summary>
    public static MapCacheSnapshot Empty { get; } = new([], 0);

    private readonly Space[] _spaces;

    private MapCacheSnapshot(Space[] spaces, int count)
    {
        _spaces = spaces;
        Count = count;
    }

    /// <summary>Entries in the snapshot (expired ones included until the cache drops them).</summary>
    public int Count { get; }

    /// <summary>The most specific entry covering <paramref name="address"/> that is live at <paramref name="now"/>, or null.</summary>
    public MapCacheEntry? Lookup(LispAddress address, DateTimeOffset now) => address.Kind switch
    {
        AddressKind.IPv4 => Lookup(AddressKind.IPv4, address.HasInstanceId, address.InstanceId, address.IPv4Value, now),
        AddressKind.IPv6 => Lookup(AddressKind.IPv6, address.HasInstanceId, address.InstanceId, new UInt128(address.IPv6High, address.IPv6Low), now),
        _ => null,
    };

    /// <summary>
    /// The most specific live entry covering an IP address given as its bits (an IPv4 address in the low 32), in an instance
    /// (<paramref name="hasInstanceId"/>) or not; the data plane's entry point, which builds no <see cref="LispAddress"/>.
    /// </summary>
    public MapCacheEntry? Lookup(AddressKind kind, bool hasInstanceId, uint instanceId, UInt128 address, DateTimeOffset now)
    {
        var space = Find(kind, hasInstanceId, instanceId);
        if (space is null) return null;
        foreach (var length in space.Lengths)
        {
            var key = MaskOf(address, length, space.Bits);
            var hash = Hash(key);
            var shard = space.Tables[length]![hash >> (32 - ShardBits)];
            // An expired entry hides nothing: the next shorter prefix answers (the cache drops the entry on its sweep).
            if (shard?.Find(key, hash) is { } entry && entry.Expires > now) return entry;
        }

        return null;
    }

    /// <summary>A snapshot with <paramref name="prefix"/> mapped to <paramref name="entry"/>, or removed when it is null.</summary>
    internal MapCacheSnapshot With(EidPrefix prefix, MapCacheEntry? entry)
    {
        var a = prefix.Address;
        if (!a.IsIp) return this;
        var bits = a.MaxMaskLength;
        var value = a.Kind == AddressKind.IPv4 ? a.IPv4Value : new UInt128(a.IPv6High, a.IPv6Low);
        var key = MaskOf(value, prefix.MaskLength, bits);
        var hash = Hash(key);
        var index = Array.FindIndex(_spaces, s => s.Kind == a.Kind && s.HasInstanceId == a.HasInstanceId && s.InstanceId == a.InstanceId);
        var space = index >= 0 ? _spaces[index] : new Space(a.Kind, a.HasInstanceId, a.InstanceId, bits, new PrefixShard?[bits + 1][], []);

        var tables = (PrefixShard?[]?[])space.Tables.Clone();
        var table = tables[prefix.MaskLength];
        var slot = (int)(hash >> (32 - ShardBits));
        var before = table?[slot]?.Count ?? 0;
        var shard = PrefixShard.With(table?[slot], key, hash, entry);
        var delta = (shard?.Count ?? 0) - before;
        if (delta == 0 && table is null) return this;

        table = table is null ? new PrefixShard?[1 << ShardBits] : (PrefixShard?[])table.Clone();
        table[slot] = shard;
        tables[prefix.MaskLength] = Array.TrueForAll(table, s => s is null) ? null : table;
        var lengths = space.Lengths;
        if ((tables[prefix.MaskLength] is null) != (space.Tables[prefix.MaskLength] is null))
        {
            lengths = Enumerable.Range(0, bits + 1).Where(m => tables[m] is not null).Reverse().Select(m => (byte)m).ToArray();
        }

        var spaces = index >= 0 ? (Space[])_spaces.Clone() : [.. _spaces, space];
        spaces[index >= 0 ? index : spaces.Length - 1] = space with { Tables = tables, Lengths = lengths };
        return new MapCacheSnapshot(Array.FindAll(spaces, s => s.Lengths.Length > 0), Count + delta);
    }

    /// <summary>A 32-bit mix of a masked prefix value: the top bits pick the slice, the low bits the slot in it.</summary>
    internal static uint Hash(UInt128 key)
    {
        var h = ((ulong)key ^ ((ulong)(key >> 64) * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        h ^= h >> 29;
        h *= 0x94D049BB133111EBUL;
        return (uint)(h >> 32);
    }

    private Space? Find(AddressKind kind, bool hasInstanceId, uint instanceId)
    {
        foreach (var s in _spaces)
        {
            if (s.Kind == kind && s.HasInstanceId == hasInstanceId && s.InstanceId == instanceId) return s;
        }

        return null;
    }

    private static UInt128 MaskOf(UInt128 value, int length, int bits) =>
        length == 0 ? UInt128.Zero : value & (UInt128.MaxValue << (bits - length)) & (bits == 32 ? uint.MaxValue : UInt128.MaxValue);

    /// <summary>One address family and instance ID: the tables by mask length and the lengths in use, longest first.</summary>
    private sealed record Space(AddressKind Kind, bool HasInstanceId, uint InstanceId, int Bits, PrefixShard?[]?[] Tables, byte[] Lengths);
}
