using System.Net;
using LispMobility.MappingSystem.Resolution;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// The Map-Resolver's per-requester buckets stay bounded without a walk of the whole table per new source: a flood from many
/// sources while the table was full of busy requesters looked at every bucket for each datagram and freed nothing.
/// </summary>
public sealed class RequesterRateLimiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));

    private static IPAddress Source(int i) => new([10, 201, (byte)(i >> 8), (byte)i]);

    [Fact]
    public void A_full_table_of_busy_requesters_sends_new_ones_to_the_shared_bucket_without_walking_it()
    {
        var limiter = new RequesterRateLimiter(perSecond: 1, burst: 10, maxTracked: 1000, _time);
        for (var i = 0; i < 1000; i++) Assert.True(limiter.TryTake(Source(i)));
        _time.Advance(TimeSpan.FromMilliseconds(100));

        var served = Enumerable.Range(1000, 1000).Count(i => limiter.TryTake(Source(i)));

        Assert.Equal(10, served); // the overflow bucket's burst, shared by every newcomer
        Assert.Equal(0, limiter.Visited); // walking the table for each newcomer looked at 1,000,000 buckets
    }

    [Fact]
    public void Refilled_buckets_make_room_soonest_first_and_one_taken_from_since_stays_with_its_tokens()
    {
        var limiter = new RequesterRateLimiter(perSecond: 1, burst: 2, maxTracked: 3, _time);
        Assert.True(limiter.TryTake(Source(1))); // full again at 1 s
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(limiter.TryTake(Source(2))); // at 1.5 s
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(limiter.TryTake(Source(3))); // at 1.6 s
        _time.Advance(TimeSpan.FromMilliseconds(300));
        Assert.True(limiter.TryTake(Source(1))); // 1.9 tokens, 0.9 left: full at 2 s
        _time.Advance(TimeSpan.FromMilliseconds(800));

        Assert.True(limiter.TryTake(Source(4))); // sources 2 and 3 are full again and forgotten; source 1 is not

        Assert.Equal(3, limiter.Visited); // source 1's first item (queued again), 2 and 3: only the refilled head of the queue
        Assert.True(limiter.TryTake(Source(1))); // 1.7 tokens kept: one more, not a fresh burst of two
        Assert.False(limiter.TryTake(Source(1)));
    }
}
