namespace LispMobility.Xtr;

/// <summary>
/// At most one log line per key and period: a fault that repeats on every packet or tick is reported once, with how many
/// were held back since, instead of flooding the log (the counters still count each one).
/// </summary>
internal sealed class LogThrottle(TimeSpan period)
{
    private readonly Dictionary<string, (DateTimeOffset Last, long Suppressed)> _keys = new(StringComparer.Ordinal);

    /// <summary>True when a line for <paramref name="key"/> may be written now; <paramref name="suppressed"/> says how many were held back.</summary>
    public bool ShouldLog(string key, DateTimeOffset now, out long suppressed)
    {
        lock (_keys) { return ShouldLogLocked(key, now, out suppressed); }
    }

    private bool ShouldLogLocked(string key, DateTimeOffset now, out long suppressed)
    {
        if (_keys.TryGetValue(key, out var state) && now - state.Last < period)
        {
            _keys[key] = (state.Last, state.Suppressed + 1);
            suppressed = 0;
            return false;
        }

        suppressed = state.Suppressed;
        _keys[key] = (now, 0);
        return true;
    }
}
