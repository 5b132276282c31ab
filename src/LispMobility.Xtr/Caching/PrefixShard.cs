namespace LispMobility.Xtr.Caching;

/// <summary>
/// An immutable open-addressed hash table of masked prefix values to map-cache entries: one slice of the prefixes of one
/// mask length. A change copies only this slice, which is what bounds the cost of publishing a snapshot.
/// </summary>
internal sealed class PrefixShard
{
    private readonly UInt128[] _keys;
    private readonly MapCacheEntry?[] _values;
    private readonly int _mask;

    private PrefixShard(int capacity)
    {
        _keys = new UInt128[capacity];
        _values = new MapCacheEntry?[capacity];
        _mask = capacity - 1;
    }

    /// <summary>Entries in the slice.</summary>
    public int Count { get; private set; }

    /// <summary>The entry of <paramref name="key"/>, or null.</summary>
    public MapCacheEntry? Find(UInt128 key, uint hash)
    {
        var keys = _keys;
        for (var i = (int)hash & _mask; ; i = (i + 1) & _mask)
        {
            var value = _values[i];
            if (value is null) return null;
            if (keys[i] == key) return value;
        }
    }

    /// <summary>A copy with <paramref name="key"/> set to <paramref name="value"/>, or removed when it is null; null when the copy is empty.</summary>
    public static PrefixShard? With(PrefixShard? shard, UInt128 key, uint hash, MapCacheEntry? value)
    {
        var count = shard?.Count ?? 0;
        var present = shard?.Find(key, hash) is not null;
        var newCount = count + (value is null ? (present ? -1 : 0) : (present ? 0 : 1));
        if (newCount == 0) return null;

        // Load at most one half, so that a probe for a missing key stops soon.
        var capacity = 4;
        while (capacity < newCount * 2) capacity <<= 1;
        var copy = new PrefixShard(capacity);
        if (shard is not null)
        {
            for (var i = 0; i < shard._values.Length; i++)
            {
                if (shard._values[i] is { } v && shard._keys[i] != key) copy.Add(shard._keys[i], MapCacheSnapshot.Hash(shard._keys[i]), v);
            }
        }

        if (value is not null) copy.Add(key, hash, value);
        return copy;
    }

    private void Add(UInt128 key, uint hash, MapCacheEntry value)
    {
        var i = (int)hash & _mask;
        while (_values[i] is not null) i = (i + 1) & _mask;
        _keys[i] = key;
        _values[i] = value;
        Count++;
    }
}
