using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;

namespace LispMobility.Xtr.Caching;

/// <summary>One map-cache entry.</summary>
public sealed record MapCacheEntry(EidPrefix Eid, IReadOnlyList<Locator> Locators, MapReplyAction Action, uint TtlMinutes, DateTimeOffset Installed, DateTimeOffset Expires)
{
    /// <summary>A negative entry (no locators).</summary>
    public bool IsNegative => Locators.Count == 0;

    /// <summary>The locators as an array, which the data plane walks without allocating an enumerator.</summary>
    public Locator[] LocatorArray { get; } = Locators as Locator[] ?? [.. Locators];

    private long _dataUse;

    /// <summary>
    /// When a lookup last hit the entry, or a packet sent by it as the map-cache's once-a-second sweep last saw
    /// (<see cref="DataUsed"/>).
    /// </summary>
    public DateTimeOffset LastUsed { get; internal set; }

    /// <summary>When the data plane (user-space ITR or kernel fast path) last noted a packet sent by this entry, to the second; null before.</summary>
    public DateTimeOffset? DataUsed => Volatile.Read(ref _dataUse) is > 0 and var t ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>
    /// Notes a packet sent by this entry at <paramref name="utcTicks"/>; any data-plane thread, per packet. The entry is shared
    /// by every ITR thread: its stamp is written at most once a second, so its cache line is not passed between cores per packet.
    /// </summary>
    internal void NoteDataUse(long utcTicks)
    {
        if (utcTicks - Volatile.Read(ref _dataUse) >= TimeSpan.TicksPerSecond) Volatile.Write(ref _dataUse, utcTicks);
    }

    /// <summary>What installed the entry: a Map-Reply to an ordinary Map-Request, or one to an SMR-invoked refresh.</summary>
    public MapCacheSource LearnedBy { get; init; }
}

/// <summary>How a map-cache entry was learned (the "how learned" of <c>show ip lisp map-cache</c>).</summary>
public enum MapCacheSource
{
    /// <summary>A Map-Reply to a Map-Request after a cache miss or a lookup.</summary>
    MapReply,

    /// <summary>A Map-Reply to an SMR-invoked Map-Request: the mapping changed (a move) and the ETR asked for a refresh.</summary>
    Smr,
}

/// <summary>
/// The ITR's map-cache: longest-prefix match per instance ID, TTL expiry, negative entries with their
/// action, and a size bound with least-recently-used eviction. Not thread-safe (used under the xTR's lock); every change
/// publishes a new <see cref="MapCacheSnapshot"/>, which any thread may read without that lock.
/// </summary>
public sealed class MapCache(int capacity)
{
    private readonly PrefixTable<LinkedListNode<MapCacheEntry>> _table = new();
    private readonly LinkedList<MapCacheEntry> _lru = new();
    private MapCacheSnapshot _snapshot = MapCacheSnapshot.Empty;

    /// <summary>The latest published snapshot: immutable, read without a lock.</summary>
    public MapCacheSnapshot Snapshot => Volatile.Read(ref _snapshot);

    // Only the owner of the lock writes; the release write orders the snapshot's contents before readers see it.
    private void Publish(EidPrefix prefix, MapCacheEntry? entry) => Volatile.Write(ref _snapshot, _snapshot.With(prefix, entry));

    /// <summary>Entries in the cache.</summary>
    public int Count => _table.Count;

    /// <summary>Entries evicted for room.</summary>
    public long Evictions { get; private set; }

    /// <summary>Every entry, most recently used first.</summary>
    public IReadOnlyList<MapCacheEntry> Entries => _lru.ToList();

    /// <summary>Installs or replaces the entry of a record, noting how it was learned.</summary>
    public MapCacheEntry Install(MappingRecord record, DateTimeOffset now, MapCacheSource learnedBy = MapCacheSource.MapReply)
    {
        ArgumentNullException.ThrowIfNull(record);
        // TTL is in minutes; "local policy" (all ones) is treated as Cisco's default of a day.
        var ttl = record.Ttl == MappingRecord.TtlLocalPolicy ? 1440u : record.Ttl;
        var entry = new MapCacheEntry(record.Eid, record.Locators, record.Action, ttl, now, now + TimeSpan.FromMinutes(ttl)) { LastUsed = now, LearnedBy = learnedBy };
        if (_table.TryGet(record.Eid, out var existing))
        {
            existing.Value = entry;
            _lru.Remove(existing);
            _lru.AddFirst(existing);
            Publish(record.Eid, entry);
            return entry;
        }

        while (_table.Count >= capacity && _lru.Last is { } oldest)
        {
            _table.Remove(oldest.Value.Eid);
            Publish(oldest.Value.Eid, null);
            _lru.RemoveLast();
            Evictions++;
        }

        _table.Set(record.Eid, _lru.AddFirst(entry));
        Publish(record.Eid, entry);
        return entry;
    }

    /// <summary>The most specific live entry covering <paramref name="address"/>; expired entries are dropped on the way.</summary>
    public MapCacheEntry? Lookup(LispAddress address, DateTimeOffset now, bool touch = true)
    {
        while (_table.TryLookup(address, out var prefix, out var node))
        {
            if (node.Value.Expires > now)
            {
                if (touch)
                {
                    node.Value.LastUsed = now;
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                }

                return node.Value;
            }

            _table.Remove(prefix);
            _lru.Remove(node);
            Publish(prefix, null);
        }

        return null;
    }

    /// <summary>The entry of exactly <paramref name="prefix"/>.</summary>
    public MapCacheEntry? Get(EidPrefix prefix) => _table.TryGet(prefix, out var node) ? node.Value : null;

    /// <summary>Removes the entry of <paramref name="prefix"/>.</summary>
    public bool Remove(EidPrefix prefix)
    {
        if (!_table.TryGet(prefix, out var node)) return false;
        _table.Remove(prefix);
        _lru.Remove(node);
        Publish(prefix, null);
        return true;
    }

    /// <summary>Every entry, most recently used first, without copying (not to be held across a change).</summary>
    internal IEnumerable<MapCacheEntry> Live => _lru;

    /// <summary>
    /// Marks every locator at <paramref name="rloc"/> reachable or not in every entry naming it, publishing the changed entries
    /// (their expiry, use and source kept); returns how many changed. Walks the cache: for a locator's state change, not per packet.
    /// </summary>
    public int SetReachable(LispAddress rloc, bool reachable)
    {
        var changed = 0;
        for (var node = _lru.First; node is not null; node = node.Next)
        {
            var e = node.Value;
            if (!Array.Exists(e.LocatorArray, l => l.Address == rloc && l.Reachable != reachable)) continue;
            var locators = Array.ConvertAll(e.LocatorArray, l => l.Address == rloc ? l with { Reachable = reachable } : l);
            var entry = new MapCacheEntry(e.Eid, locators, e.Action, e.TtlMinutes, e.Installed, e.Expires) { LastUsed = e.LastUsed, LearnedBy = e.LearnedBy };
            // The data plane's note goes with it, for the sweep to take in as it would have from the entry replaced.
            if (e.DataUsed is { } used) entry.NoteDataUse(used.UtcTicks);
            node.Value = entry;
            Publish(e.Eid, entry);
            changed++;
        }

        return changed;
    }

    /// <summary>
    /// Drops every expired entry; returns how many. An entry the data plane used since its last use here takes that as its
    /// last use and moves to the front, so that the least recently used entry goes first whichever path carried the traffic
    /// (the data plane reads the published snapshot and never touches the list); it is added to <paramref name="dataUsed"/>.
    /// </summary>
    public int Expire(DateTimeOffset now, List<MapCacheEntry>? dataUsed = null)
    {
        var removed = 0;
        for (var node = _lru.First; node is not null;)
        {
            var next = node.Next;
            var e = node.Value;
            if (e.Expires <= now)
            {
                _table.Remove(e.Eid);
                _lru.Remove(node);
                Publish(e.Eid, null);
                removed++;
            }
            else if (e.DataUsed is { } used && used > e.LastUsed)
            {
                e.LastUsed = used;
                _lru.Remove(node);
                _lru.AddFirst(node);
                dataUsed?.Add(e);
            }

            node = next;
        }

        return removed;
    }
}
