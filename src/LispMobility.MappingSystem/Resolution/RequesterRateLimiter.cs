using System.Net;

namespace LispMobility.MappingSystem.Resolution;

/// <summary>
/// Token buckets per requester address, bounded in number: when the table is full, requesters not in it
/// share one overflow bucket, so a flood from many spoofed sources still costs bounded CPU and memory.
/// </summary>
internal sealed class RequesterRateLimiter(double perSecond, int burst, int maxTracked, TimeProvider time)
{
    private readonly Dictionary<IPAddress, Bucket> _buckets = [];
    private readonly Bucket _overflow = new(burst, time.GetTimestamp());
    private readonly object _gate = new();

    public bool TryTake(IPAddress requester)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!_buckets.TryGetValue(requester, out var bucket))
            {
                if (_buckets.Count >= maxTracked) Prune(now);
                if (_buckets.Count >= maxTracked) bucket = _overflow;
                else _buckets[requester] = bucket = new Bucket(burst, now);
            }

            return bucket.TryTake(now, perSecond, burst, time.TimestampFrequency);
        }
    }

    // Buckets that have refilled completely carry no state worth keeping.
    private void Prune(long now)
    {
        foreach (var (address, bucket) in _buckets.ToList())
        {
            if (bucket.IsFull(now, perSecond, burst, time.TimestampFrequency)) _buckets.Remove(address);
        }
    }

    private sealed class Bucket(double tokens, long stamp)
    {
        private double _tokens = tokens;
        private long _stamp = stamp;

        public bool TryTake(long now, double rate, int burst, long frequency)
        {
            Refill(now, rate, burst, frequency);
            if (_tokens < 1) return false;
            _tokens -= 1;
            return true;
        }

        public bool IsFull(long now, double rate, int burst, long frequency)
        {
            Refill(now, rate, burst, frequency);
            return _tokens >= burst;
        }

        private void Refill(long now, double rate, int burst, long frequency)
        {
            var elapsed = (double)(now - _stamp) / frequency;
            _stamp = now;
            _tokens = Math.Min(burst, _tokens + elapsed * rate);
        }
    }
}
