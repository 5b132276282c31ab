using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Benchmarks.Xtr;

/// <summary>
/// The data plane's per-packet work without syscalls: map-cache lookup (100,000 entries) + encapsulation of a 64-byte
/// IPv4 UDP packet (IPv4 outer, and IPv6 outer with its UDP checksum), and decapsulation at the ETR.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class DataPlaneBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly MapCache _cache = new(200_000);
    private readonly byte[] _icmp = new byte[1500];
    private readonly byte[] _packet = new byte[ItrEncapsulator.Headroom + 64];
    private readonly byte[] _original = new byte[ItrEncapsulator.Headroom + 64];
    private byte[] _encapsulated = [];
    private ItrEncapsulator _itr = null!;
    private EtrDecapsulator _etr = null!;
    private UInt128 _from;
    private UInt128 _to;

    /// <summary>Fills the cache and builds one packet.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Locator[] v4 = [new(LispAddress.Parse("192.0.2.1"), 1, 50), new(LispAddress.Parse("192.0.2.2"), 1, 50)];
        Locator[] v6 = [new(LispAddress.Parse("2001:db8:ffff::1"))];
        for (uint i = 0; i < 99_999; i++) _cache.Install(new MappingRecord { Eid = new EidPrefix(LispAddress.IPv4(0x0A000000u + i * 661), 32), Locators = v4 }, T0);
        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.0.0/16"), Locators = v6 }, T0);
        var counters = new DataPlaneCounters();
        var signals = NoDataPlaneSignals.Instance;
        var settings = new DataPlaneSettings { LocalRlocs = [LispAddress.Parse("198.51.100.9"), LispAddress.Parse("2001:db8:eeee::9")] };
        _itr = new ItrEncapsulator(settings, () => _cache.Snapshot, counters, signals);
        var eids = new LocalEids([EidPrefix.Parse("10.0.0.0/8")], [], [LispAddress.Parse("10.99.0.1")]);
        _etr = new EtrDecapsulator(settings with { LocalRlocs = [LispAddress.Parse("192.0.2.1")] }, () => eids, counters, signals);
        _from = IpPacket.Bits(LispAddress.Parse("198.51.100.9"));
        _to = IpPacket.Bits(LispAddress.Parse("192.0.2.1"));

        var p = _original.AsSpan(ItrEncapsulator.Headroom);
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], 64);
        p[6] = 0x40;
        p[8] = 64;
        p[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(p[12..], 0xC6336401);
        BinaryPrimitives.WriteUInt32BigEndian(p[16..], 0x0A000000u + 1234 * 661);
        BinaryPrimitives.WriteUInt16BigEndian(p[20..], 40000);
        BinaryPrimitives.WriteUInt16BigEndian(p[22..], 443);
        _original.CopyTo(_packet, 0);
        _itr.Encapsulate(_packet, ItrEncapsulator.Headroom, 64, T0, _icmp, out var output);
        _encapsulated = _packet.AsSpan(output)[28..].ToArray();
    }

    /// <summary>Lookup + RLOC choice + IPv4 outer headers (UDP checksum 0).</summary>
    [Benchmark]
    public ItrVerdict EncapsulateOverIPv4()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_packet.AsSpan(ItrEncapsulator.Headroom + 16), 0x0A000000u + 1234 * 661);
        return _itr.Encapsulate(_packet, ItrEncapsulator.Headroom, 64, T0, _icmp, out _);
    }

    /// <summary>Lookup + IPv6 outer headers with the UDP checksum over the whole packet.</summary>
    [Benchmark]
    public ItrVerdict EncapsulateOverIPv6()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_packet.AsSpan(ItrEncapsulator.Headroom + 16), 0xAC100A0A);
        return _itr.Encapsulate(_packet, ItrEncapsulator.Headroom, 64, T0, _icmp, out _);
    }

    /// <summary>Header, instance ID, RLOC and inner checks at the ETR.</summary>
    [Benchmark]
    public bool Decapsulate() => _etr.TryDecapsulate(_encapsulated, AddressKind.IPv4, _from, _to, T0, out _);
}
