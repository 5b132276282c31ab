using BenchmarkDotNet.Attributes;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Benchmarks.Xtr;

/// <summary>
/// The published map-cache snapshot with 100,000 entries (99,000 host /32s and 1,000 /16 aggregates, as a branch ITR
/// that talks to many moved hosts holds): a lookup (what the data plane pays per packet) and publishing one change
/// (what the xTR's lock holder pays per installed or removed record).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class MapCacheSnapshotBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly MapCache _cache = new(200_000);
    private MapCacheSnapshot _snapshot = MapCacheSnapshot.Empty;
    private uint[] _probes = [];
    private MappingRecord _update = null!;

    /// <summary>Fills the cache.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rloc = new[] { new Locator(LispAddress.Parse("192.0.2.1")) };
        for (uint i = 0; i < 1000; i++) _cache.Install(new MappingRecord { Eid = new EidPrefix(LispAddress.IPv4(0x0A000000u + (i << 16)), 16), Locators = rloc }, T0);
        for (uint i = 0; i < 99_000; i++) _cache.Install(new MappingRecord { Eid = new EidPrefix(LispAddress.IPv4(0x0A000000u + i * 661), 32), Locators = rloc }, T0);
        _snapshot = _cache.Snapshot;
        var random = new Random(15);
        // Half hit a host entry, half fall back to an aggregate.
        _probes = Enumerable.Range(0, 4096).Select(i => i % 2 == 0 ? 0x0A000000u + (uint)random.Next(99_000) * 661 : 0x0A000000u + (uint)random.Next(1000 << 16) + 1).ToArray();
        _update = new MappingRecord { Eid = new EidPrefix(LispAddress.IPv4(0x0B000001u), 32), Locators = rloc };
    }

    /// <summary>4,096 lookups in the snapshot (divide by 4,096 for one).</summary>
    [Benchmark(OperationsPerInvoke = 4096)]
    public int Lookup()
    {
        var hits = 0;
        foreach (var p in _probes)
        {
            if (_snapshot.Lookup(AddressKind.IPv4, false, 0, p, T0) is not null) hits++;
        }

        return hits;
    }

    /// <summary>Installing a host entry and removing it again: two published snapshots.</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public int PublishInstallAndRemove()
    {
        _cache.Install(_update, T0);
        _cache.Remove(_update.Eid);
        return _cache.Snapshot.Count;
    }
}
