namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// At most one event per key per interval, in a fixed table (no allocation per packet, bounded memory whatever the senders
/// do). Two keys that share a slot may each pass more often than the interval; the engine behind it limits again, exactly.
/// Thread-safe through a lock, which only the slow paths (a map-cache miss, an away EID) take.
/// </summary>
internal sealed class RateLimiter(int slots, TimeSpan interval)
{
    private readonly UInt128[] _keys = new UInt128[Pow2(slots)];
    private readonly long[] _last = new long[Pow2(slots)];
    private readonly long _interval = interval.Ticks;

    /// <summary>True when <paramref name="key"/> may pass at <paramref name="nowTicks"/> (and notes that it did).</summary>
    public bool TryPass(UInt128 key, long nowTicks)
    {
        var slot = (int)(Caching.MapCacheSnapshot.Hash(key) & (uint)(_keys.Length - 1));
        lock (_keys)
        {
            if (_keys[slot] == key && nowTicks - _last[slot] < _interval && _last[slot] != 0) return false;
            _keys[slot] = key;
            _last[slot] = nowTicks;
            return true;
        }
    }

    private static int Pow2(int n)
    {
        var p = 16;
        while (p < n) p <<= 1;
        return p;
    }
}
