using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr.Tests;

/// <summary>The published map-cache snapshot: longest-prefix match as the cache answers, immutability, no allocation, readers without a lock.</summary>
public sealed class MapCacheSnapshotTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static MappingRecord Record(EidPrefix eid, string rloc, uint ttl = 1440) => new()
    {
        Eid = eid, Ttl = ttl, Locators = [new Locator(LispAddress.Parse(rloc))],
    };

    private static MappingRecord Record(string eid, string rloc, uint ttl = 1440) => Record(EidPrefix.Parse(eid), rloc, ttl);

    [Fact]
    public void The_snapshot_matches_the_longest_prefix_per_family_and_instance_id()
    {
        var cache = new MapCache(100);
        cache.Install(Record("10.0.0.0/8", "192.0.2.8"), T0);
        cache.Install(Record("10.1.0.0/16", "192.0.2.16"), T0);
        cache.Install(Record("[7]10.1.2.0/24", "192.0.2.24"), T0);
        cache.Install(Record("2001:db8::/32", "192.0.2.32"), T0);
        cache.Install(Record("2001:db8::5/128", "192.0.2.128"), T0);
        cache.Install(Record("0.0.0.0/0", "192.0.2.0"), T0);
        var s = cache.Snapshot;

        Assert.Equal("10.1.0.0/16", s.Lookup(LispAddress.Parse("10.1.2.3"), T0)!.Eid.ToString());
        Assert.Equal("10.0.0.0/8", s.Lookup(LispAddress.Parse("10.2.0.1"), T0)!.Eid.ToString());
        Assert.Equal("0.0.0.0/0", s.Lookup(LispAddress.Parse("11.0.0.1"), T0)!.Eid.ToString());
        Assert.Equal("[7]10.1.2.0/24", s.Lookup(LispAddress.Parse("[7]10.1.2.3"), T0)!.Eid.ToString());
        Assert.Null(s.Lookup(LispAddress.Parse("[7]10.1.3.1"), T0));
        Assert.Equal("2001:db8::5/128", s.Lookup(LispAddress.Parse("2001:db8::5"), T0)!.Eid.ToString());
        Assert.Equal("2001:db8::/32", s.Lookup(LispAddress.Parse("2001:db8::6"), T0)!.Eid.ToString());
        Assert.Null(s.Lookup(LispAddress.Parse("2001:db9::1"), T0));
        Assert.Equal(6, s.Count);
    }

    [Fact]
    public void A_published_snapshot_never_changes_and_the_next_one_carries_the_change()
    {
        var cache = new MapCache(100);
        cache.Install(Record("10.1.0.0/16", "192.0.2.1"), T0);
        var before = cache.Snapshot;

        cache.Install(Record("10.1.0.7/32", "192.0.2.2"), T0);
        cache.Remove(EidPrefix.Parse("10.1.0.0/16"));

        Assert.Equal("10.1.0.0/16", before.Lookup(LispAddress.Parse("10.1.0.7"), T0)!.Eid.ToString());
        Assert.Equal(1, before.Count);
        Assert.Equal("10.1.0.7/32", cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.7"), T0)!.Eid.ToString());
        Assert.Null(cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.8"), T0));
    }

    [Fact]
    public void An_expired_entry_gives_way_to_the_covering_one_and_expiry_and_eviction_are_published()
    {
        var cache = new MapCache(2);
        cache.Install(Record("10.0.0.0/8", "192.0.2.8", ttl: 60), T0);
        cache.Install(Record("10.1.0.0/16", "192.0.2.16", ttl: 1), T0);

        Assert.Equal(8, cache.Snapshot.Lookup(LispAddress.Parse("10.1.0.1"), T0.AddMinutes(1))!.Eid.MaskLength);
        cache.Expire(T0.AddMinutes(1));
        Assert.Equal(1, cache.Snapshot.Count);

        cache.Install(Record("10.2.0.0/16", "192.0.2.2"), T0);
        cache.Install(Record("10.3.0.0/16", "192.0.2.3"), T0); // evicts 10/8
        Assert.Null(cache.Snapshot.Lookup(LispAddress.Parse("10.9.0.1"), T0));
        Assert.Equal(2, cache.Snapshot.Count);
    }

    [Fact]
    public void Random_installs_and_removals_answer_as_the_cache_does()
    {
        var random = new Random(15);
        var cache = new MapCache(100_000);
        var installed = new List<EidPrefix>();
        for (var round = 0; round < 4000; round++)
        {
            if (installed.Count > 0 && random.Next(4) == 0)
            {
                var victim = installed[random.Next(installed.Count)];
                installed.Remove(victim);
                Assert.True(cache.Remove(victim));
            }
            else
            {
                // Few distinct top bytes so that prefixes nest; every length from /0 to /32 (and /128 for IPv6).
                var prefix = random.Next(3) == 0
                    ? new EidPrefix(LispAddress.IPv6(0x20010db8_00000000UL | (ulong)random.Next(4) << 16, (ulong)random.NextInt64()), random.Next(129))
                    : new EidPrefix(LispAddress.IPv4(0x0A000000u | (uint)random.Next(4) << 16 | (uint)random.Next(65536)), random.Next(33));
                if (!installed.Contains(prefix)) installed.Add(prefix);
                cache.Install(Record(prefix, "192.0.2.1"), T0);
            }

            var probe = random.Next(2) == 0
                ? LispAddress.IPv4(0x0A000000u | (uint)random.Next(4) << 16 | (uint)random.Next(65536))
                : LispAddress.IPv6(0x20010db8_00000000UL | (ulong)random.Next(4) << 16, (ulong)random.NextInt64());
            Assert.Equal(cache.Lookup(probe, T0, touch: false)?.Eid, cache.Snapshot.Lookup(probe, T0)?.Eid);
            Assert.Equal(cache.Count, cache.Snapshot.Count);
        }
    }

    [Fact]
    public void A_lookup_allocates_nothing()
    {
        var cache = new MapCache(10_000);
        for (var i = 0; i < 5000; i++) cache.Install(Record(new EidPrefix(LispAddress.IPv4(0x0A000000u + (uint)i), 32), "192.0.2.1"), T0);
        cache.Install(Record("10.0.0.0/8", "192.0.2.8"), T0);
        var snapshot = cache.Snapshot;
        static int Lookups(MapCacheSnapshot s)
        {
            var hits = 0;
            for (var i = 0; i < 100_000; i++) hits += s.Lookup(AddressKind.IPv4, false, 0, 0x0A000000u + (uint)i, T0) is null ? 0 : 1;
            return hits;
        }

        // The first round pays for the JIT (whose on-stack replacement allocates on this thread); the second is measured.
        Assert.Equal(100_000, Lookups(snapshot));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var hits = Lookups(snapshot);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(100_000, hits);
    }

    [Fact]
    public async Task Readers_on_other_threads_see_whole_entries_while_the_owner_publishes()
    {
        var cache = new MapCache(100_000);
        cache.Install(Record("10.0.0.0/8", "192.0.2.8"), T0);
        using var stop = new CancellationTokenSource();
        using var started = new CountdownEvent(2);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var reads = 0;
            while (!stop.IsCancellationRequested)
            {
                // Every address is covered by 10/8 at least, whatever the owner is doing to the /32s.
                var e = cache.Snapshot.Lookup(LispAddress.IPv4(0x0A000000u + (uint)(reads % 2000)), T0);
                if (e is null || e.Locators.Count != 1) return -1;
                if (reads++ == 0) started.Signal();
            }

            return reads;
        })).ToArray();

        Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
        for (var i = 0; i < 20_000; i++)
        {
            var host = new EidPrefix(LispAddress.IPv4(0x0A000000u + (uint)(i % 2000)), 32);
            if (i % 3 == 0) cache.Remove(host);
            else cache.Install(Record(host, "192.0.2.1"), T0);
        }

        await stop.CancelAsync();
        Assert.All(await Task.WhenAll(readers), reads => Assert.True(reads > 0, "a reader saw an address uncovered or a torn entry"));
    }
}
