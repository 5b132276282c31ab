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
    // One item per tracked bucket, at the earliest timestamp it can be full again: pruning takes the soonest from here instead
    // of walking every bucket. A full table of busy requesters was walked for each new source and freed nothing, so a flood
    // from many sources cost the whole table per datagram. A bucket taken from since is not full yet and is queued again.
    private readonly PriorityQueue<IPAddress, long> _byFull = new();
    private readonly object _gate = new();

    /// <summary>Buckets pruning has looked at since start: what a test counts to see it stay proportional to what it frees.</summary>
    internal long Visited { get; private set; }

    public bool TryTake(IPAddress requester)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (_buckets.TryGetValue(requester, out var bucket)) return bucket.TryTake(now, perSecond, burst, time.TimestampFrequency);
            if (_buckets.Count >= maxTracked) Prune(now);
            if (_buckets.Count >= maxTracked) return _overflow.TryTake(now, perSecond, burst, time.TimestampFrequency);

            _buckets[requester] = bucket = new Bucket(burst, now);
            var taken = bucket.TryTake(now, perSecond, burst, time.TimestampFrequency);
            _byFull.Enqueue(requester, bucket.FullAt(perSecond, burst, time.TimestampFrequency));
            return taken;
        }
    }

    // Buckets that have refilled completely carry no state worth keeping. Each is looked at once per call at most: one not
    // full yet goes back at the time it will be, which is later than now.
    private void Prune(long now)
    {
        while (_byFull.TryPeek(out var address, out var full) && full <= now)
        {
            _byFull.Dequeue();
            Visited++;
            if (!_buckets.TryGetValue(address, out var bucket)) continue;
            if (bucket.IsFull(now, perSecond, burst, time.TimestampFrequency)) _buckets.Remove(address);
            else _byFull.Enqueue(address, bucket.FullAt(perSecond, burst, time.TimestampFrequency));
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

        /// <summary>When it is full again if nothing is taken (never at a rate of zero).</summary>
        public long FullAt(double rate, int burst, long frequency)
        {
            if (rate <= 0) return long.MaxValue;
            var ticks = Math.Ceiling((burst - _tokens) / rate * frequency);
            return ticks >= long.MaxValue - _stamp ? long.MaxValue : _stamp + (long)ticks;
        }

        private void Refill(long now, double rate, int burst, long frequency)
        {
            var elapsed = (double)(now - _stamp) / frequency;
            _stamp = now;
            _tokens = Math.Min(burst, _tokens + elapsed * rate);
        }
    }
}
