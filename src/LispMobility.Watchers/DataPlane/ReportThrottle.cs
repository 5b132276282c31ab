using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Watchers.DataPlane;

/// <summary>What <see cref="ReportThrottle.Admit"/> decided for one sighting.</summary>
internal enum ThrottleVerdict { Report, Duplicate, Known, RateLimited, TableFull }

/// <summary>
/// Keeps an ARP storm cheap: a bounded table of recent sightings (dedup window) and a token bucket on reports.
/// Memory is at most <c>capacity</c> entries; work per frame is O(1) except a sweep when the table is full.
/// Not thread-safe: one per capture thread.
/// </summary>
internal sealed class ReportThrottle(int capacity, TimeSpan window, double reportsPerSecond, int burst, TimeProvider time)
{
    private readonly Dictionary<Key, Entry> _seen = new(capacity);
    private readonly long _windowTicks = (long)(window.TotalSeconds * time.TimestampFrequency);
    private double _tokens = burst;
    private long _refilledAt = time.GetTimestamp();

    /// <summary>Entries held now (never more than the capacity).</summary>
    public int Count => _seen.Count;

    /// <summary>Changes whenever an entry is added or swept: the sniffer's kernel filter is rebuilt from <see cref="KnownSenders"/> then.</summary>
    public int Version { get; private set; }

    /// <summary>The senders held with an address: their next plain IP packets would only be <see cref="ThrottleVerdict.Known"/>.</summary>
    public IEnumerable<(PhysicalAddress Mac, IPAddress Address)> KnownSenders =>
        _seen.Keys.Where(k => k.Address is not null).Select(k => (k.Mac, k.Address!));

    /// <summary>
    /// Announcements are reported when not reported in the window; a plain IP packet only the first time its
    /// sender is seen, because ordinary traffic would otherwise report every host every window.
    /// </summary>
    public ThrottleVerdict Admit(PhysicalAddress mac, IPAddress? address, bool announcement)
    {
        var now = time.GetTimestamp();
        var key = new Key(mac, address);
        if (_seen.TryGetValue(key, out var entry))
        {
            entry.LastSeen = now;
            if (!announcement) return ThrottleVerdict.Known;
            if (now - entry.LastReported < _windowTicks) return ThrottleVerdict.Duplicate;
            if (!TakeToken(now)) return ThrottleVerdict.RateLimited;
            entry.LastReported = now;
            return ThrottleVerdict.Report;
        }
        if (_seen.Count >= capacity && !Sweep(now)) return ThrottleVerdict.TableFull;
        if (!TakeToken(now)) return ThrottleVerdict.RateLimited;
        _seen[key] = new Entry { LastSeen = now, LastReported = now };
        Version++;
        return ThrottleVerdict.Report;
    }

    // Frees entries not seen within the window; a busy segment with more live hosts than the capacity drops the rest.
    private bool Sweep(long now)
    {
        foreach (var (key, entry) in _seen)
        {
            if (now - entry.LastSeen >= _windowTicks && _seen.Remove(key)) Version++;
        }
        return _seen.Count < capacity;
    }

    private bool TakeToken(long now)
    {
        _tokens = Math.Min(burst, _tokens + (now - _refilledAt) * reportsPerSecond / time.TimestampFrequency);
        _refilledAt = now;
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }

    private readonly record struct Key(PhysicalAddress Mac, IPAddress? Address);

    private sealed class Entry
    {
        public long LastSeen;
        public long LastReported;
    }
}
