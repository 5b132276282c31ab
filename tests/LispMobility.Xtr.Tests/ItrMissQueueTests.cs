using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;
using static LispMobility.Xtr.Tests.DataPlanePackets;

namespace LispMobility.Xtr.Tests;

/// <summary>The ITR's miss queue: the first packets to an unknown EID wait for the Map-Reply; what cannot wait is counted by reason.</summary>
public sealed class ItrMissQueueTests
{
    private readonly MapCache _cache = new(1000);
    private readonly DataPlaneCounters _counters = new();
    private readonly Signals _signals = new();
    private readonly byte[] _icmp = new byte[1500];
    private readonly byte[] _release = new byte[ItrEncapsulator.Headroom + 1500];

    private ItrEncapsulator Itr(int depth = 4, int destinations = 2) => new(
        new DataPlaneSettings
        {
            LocalRlocs = [LispAddress.Parse("192.0.2.1")], MissQueueDepth = depth, MissQueueDestinations = destinations,
            MissHoldTime = TimeSpan.FromSeconds(5),
        },
        () => _cache.Snapshot, _counters, _signals);

    private ItrVerdict Send(ItrEncapsulator itr, string destination, ushort port, DateTimeOffset? at = null)
    {
        var buffer = Udp("10.9.0.5", destination, port, 443);
        return itr.Encapsulate(buffer, ItrEncapsulator.Headroom, buffer.Length - ItrEncapsulator.Headroom, at ?? T0, _icmp, out _);
    }

    // What the released packets became: the verdict and, when encapsulated, the outer destination and the inner source port.
    private List<(ItrVerdict Verdict, string? Rloc, ushort Port)> Release(ItrEncapsulator itr, DateTimeOffset at)
    {
        var released = new List<(ItrVerdict, string?, ushort)>();
        while (itr.TryRelease(_release, at, _icmp, out var verdict, out var output))
        {
            if (verdict != ItrVerdict.Encapsulated)
            {
                released.Add((verdict, null, 0));
                continue;
            }

            var outer = _release.AsSpan(output);
            released.Add((verdict, new System.Net.IPAddress(outer[16..20]).ToString(), BinaryPrimitives.ReadUInt16BigEndian(outer[56..])));
        }

        return released;
    }

    [Fact]
    public void The_first_packets_to_an_unknown_eid_are_sent_in_order_once_the_reply_installs_its_entry()
    {
        var itr = Itr();
        for (ushort port = 1; port <= 3; port++) Assert.Equal(ItrVerdict.Held, Send(itr, "172.16.4.10", port));

        Assert.True(itr.HasHeld);
        Assert.Empty(Release(itr, T0.AddMilliseconds(10)));
        Assert.Equal(["172.16.4.10"], _signals.Misses.Select(a => a.ToString()));

        _cache.Install(Record("172.16.4.0/24", L("198.51.100.2")), T0.AddMilliseconds(20));

        Assert.Equal([(ItrVerdict.Encapsulated, "198.51.100.2", 1), (ItrVerdict.Encapsulated, "198.51.100.2", 2), (ItrVerdict.Encapsulated, "198.51.100.2", 3)],
            Release(itr, T0.AddMilliseconds(21)));
        Assert.False(itr.HasHeld);
        Assert.Equal((3, 3), (_counters.Held, _counters.Encapsulated));
        Assert.Equal(0, _counters.Dropped(DataPlaneDrop.MapCacheMiss));
    }

    [Fact]
    public void Packets_beyond_the_depth_or_the_destinations_are_counted_as_queue_full_and_the_rest_still_go()
    {
        var itr = Itr(depth: 2, destinations: 2);
        Assert.Equal([ItrVerdict.Held, ItrVerdict.Held, ItrVerdict.Dropped], new[] { Send(itr, "172.16.4.10", 1), Send(itr, "172.16.4.10", 2), Send(itr, "172.16.4.10", 3) });
        Assert.Equal(ItrVerdict.Held, Send(itr, "172.16.5.10", 4));
        Assert.Equal(ItrVerdict.Dropped, Send(itr, "172.16.6.10", 5));

        Assert.Equal(2, _counters.Dropped(DataPlaneDrop.MissQueueFull));
        _cache.Install(Record("172.16.0.0/16", L("198.51.100.2")), T0);
        Assert.Equal([1, 2, 4], Release(itr, T0).Select(r => (int)r.Port));

        // A destination drained frees its place for the next one.
        Assert.Equal(ItrVerdict.Held, Send(itr, "172.17.0.1", 6));
        Assert.Equal(4, _counters.Held);
    }

    [Fact]
    public void A_negative_reply_drops_the_held_packets_and_counts_them_as_negative()
    {
        var itr = Itr();
        Send(itr, "172.16.2.10", 1);
        Send(itr, "172.16.2.10", 2);
        Send(itr, "172.16.3.10", 3);

        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.2.0/24"), Action = MapReplyAction.Drop }, T0);
        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.3.0/24"), Action = MapReplyAction.SendMapRequest }, T0);

        Assert.Equal([ItrVerdict.Dropped, ItrVerdict.Dropped, ItrVerdict.Dropped], Release(itr, T0).Select(r => r.Verdict));
        Assert.Equal(3, _counters.Dropped(DataPlaneDrop.NegativeEntry));
        Assert.False(itr.HasHeld);
        Assert.Equal(0, _counters.Encapsulated);
    }

    [Fact]
    public void Held_packets_without_a_reply_within_the_hold_time_are_dropped_as_resolve_failed()
    {
        var itr = Itr();
        Send(itr, "172.16.4.10", 1);
        Send(itr, "172.16.4.10", 2, T0.AddSeconds(4));

        Assert.Empty(Release(itr, T0.AddSeconds(4.9)));
        Assert.True(itr.HasHeld);
        Assert.Empty(Release(itr, T0.AddSeconds(5)));

        Assert.False(itr.HasHeld);
        Assert.Equal(2, _counters.Dropped(DataPlaneDrop.ResolveFailed));
        _cache.Install(Record("172.16.4.0/24", L("198.51.100.2")), T0.AddSeconds(6));
        Assert.Empty(Release(itr, T0.AddSeconds(6)));
    }

    [Fact]
    public void Holding_and_releasing_allocate_nothing_once_warm()
    {
        var itr = Itr(depth: 8, destinations: 4);
        var packet = Udp("10.9.0.5", "172.16.4.10", 1, 443);
        var length = packet.Length - ItrEncapsulator.Headroom;
        var eid = EidPrefix.Parse("172.16.4.0/24");
        var record = Record("172.16.4.0/24", L("198.51.100.2"));

        int Hold()
        {
            var verdicts = 0;
            for (var k = 0; k < 8; k++) verdicts |= 1 << (int)itr.Encapsulate(packet, ItrEncapsulator.Headroom, length, T0, _icmp, out _);
            return verdicts;
        }

        int ReleaseAll()
        {
            var n = 0;
            while (itr.TryRelease(_release, T0, _icmp, out _, out _)) n++;
            return n;
        }

        // Rounds of hold, install, release; the map-cache's own installs are not measured.
        long Rounds(int count)
        {
            var allocated = 0L;
            for (var round = 0; round < count; round++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var verdicts = Hold();
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(1 << (int)ItrVerdict.Held, verdicts);
                _cache.Install(record, T0);
                before = GC.GetAllocatedBytesForCurrentThread();
                var released = ReleaseAll();
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(8, released);
                _cache.Remove(eid);
            }

            return allocated;
        }

        // The first rounds pay for the JIT (whose on-stack replacement allocates on this thread); the last are measured.
        Rounds(500);
        Assert.Equal(0, Rounds(50));
        Assert.Equal(550 * 8, _counters.Encapsulated);
    }
}
