using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;
using static LispMobility.Xtr.Tests.DataPlanePackets;

namespace LispMobility.Xtr.Tests;

/// <summary>The ITR's per-packet work: lookup, RLOC choice per flow, outer headers, LISP header, MTU, misses and negative entries.</summary>
public sealed class ItrEncapsulatorTests
{
    private readonly MapCache _cache = new(1000);
    private readonly DataPlaneCounters _counters = new();
    private readonly Signals _signals = new();
    private readonly byte[] _icmp = new byte[1500];

    private ItrEncapsulator Itr(uint? iid = null, int mtu = 1500, int queue = 0, params string[] rlocs) => new(
        new DataPlaneSettings
        {
            LocalRlocs = (rlocs.Length == 0 ? ["192.0.2.1", "2001:db8:ffff::1"] : rlocs).Select(LispAddress.Parse).ToArray(), InstanceId = iid, LinkMtu = mtu,
            MissQueueDepth = queue, MissQueueDestinations = 2, MissHoldTime = TimeSpan.FromSeconds(5),
        },
        () => _cache.Snapshot, _counters, _signals);

    private ItrVerdict Run(ItrEncapsulator itr, byte[] buffer, out Range output) =>
        itr.Encapsulate(buffer, ItrEncapsulator.Headroom, buffer.Length - ItrEncapsulator.Headroom, T0, _icmp, out output);

    [Fact]
    public void An_ipv4_packet_is_encapsulated_over_ipv4_with_the_rfc_9300_headers()
    {
        _cache.Install(Record("[7]172.16.4.0/24", L("198.51.100.2")), T0);
        var itr = Itr(iid: 7);
        var buffer = Udp("10.9.0.5", "172.16.4.10", 40000, 53, length: 64, ttl: 63, tos: 0xB8);
        var inner = buffer[ItrEncapsulator.Headroom..].ToArray();

        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, buffer, out var output));
        var outer = buffer.AsSpan(output);
        Assert.Equal(36 + 64, outer.Length);
        Assert.Equal(0x45, outer[0]);
        Assert.Equal(0xB8, outer[1]); // DSCP and ECN from the inner header
        Assert.Equal(100, BinaryPrimitives.ReadUInt16BigEndian(outer[2..]));
        Assert.Equal(63, outer[8]); // TTL from the inner header
        Assert.Equal(17, outer[9]);
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(0, outer[..20])));
        Assert.Equal(Bits("192.0.2.1"), (UInt128)BinaryPrimitives.ReadUInt32BigEndian(outer[12..]));
        Assert.Equal(Bits("198.51.100.2"), (UInt128)BinaryPrimitives.ReadUInt32BigEndian(outer[16..]));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(outer[20..]);
        Assert.InRange(sourcePort, 49152, 65535);
        Assert.Equal(4341, BinaryPrimitives.ReadUInt16BigEndian(outer[22..]));
        Assert.Equal(8 + 8 + 64, BinaryPrimitives.ReadUInt16BigEndian(outer[24..]));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(outer[26..])); // IPv4: UDP checksum 0 (RFC 9300 §5.3)
        Assert.True(DataPlaneHeader.TryRead(outer[28..], out var lisp, out _));
        Assert.True(lisp.NoncePresent && lisp.InstanceIdPresent && lisp.LocatorStatusBitsEnabled && !lisp.MapVersionPresent);
        Assert.Equal(7u, lisp.InstanceId);
        Assert.Equal(0b11u, lisp.LocatorStatusBits);
        Assert.Equal(inner, outer[36..].ToArray());
        Assert.Equal(1, _counters.Encapsulated);
        // The packet is noted on its entry, for the map-cache's last use and LRU order.
        Assert.Equal(T0, _cache.Get(EidPrefix.Parse("[7]172.16.4.0/24"))!.DataUsed);
    }

    [Fact]
    public void One_flow_keeps_its_rloc_port_while_flows_spread_by_weight_over_the_best_priority()
    {
        _cache.Install(Record("172.16.0.0/16", L("198.51.100.1", 1, 75), L("198.51.100.2", 1, 25), L("198.51.100.3", 2, 100)), T0);
        var itr = Itr();
        var chosen = new Dictionary<string, int>();
        var nonces = new HashSet<uint>();
        for (ushort port = 1000; port < 3000; port++)
        {
            var first = Destination(itr, port, out var sourcePort, out var nonce);
            Assert.Equal((first, sourcePort), (Destination(itr, port, out var again, out _), again));
            chosen[first] = chosen.GetValueOrDefault(first) + 1;
            nonces.Add(nonce);
        }

        Assert.False(chosen.ContainsKey("198.51.100.3"));
        Assert.InRange(chosen["198.51.100.1"], 1300, 1700);
        Assert.True(nonces.Count > 1900, "a random nonce per packet");
    }

    private string Destination(ItrEncapsulator itr, ushort port, out ushort sourcePort, out uint nonce)
    {
        var buffer = Udp("10.9.0.5", "172.16.4.10", port, 443);
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, buffer, out var output));
        var outer = buffer.AsSpan(output);
        sourcePort = BinaryPrimitives.ReadUInt16BigEndian(outer[20..]);
        nonce = BinaryPrimitives.ReadUInt32BigEndian(outer[28..]) & 0xFFFFFF;
        return new System.Net.IPAddress(outer[16..20]).ToString();
    }

    [Fact]
    public void Ipv6_eids_go_over_ipv4_rlocs_and_ipv4_eids_over_ipv6_rlocs_with_the_udp_checksum_computed()
    {
        _cache.Install(Record("2001:db8:4::/48", L("198.51.100.2")), T0);
        _cache.Install(Record("172.16.4.0/24", L("2001:db8:ffff::2")), T0);
        var itr = Itr();

        var six = Udp("2001:db8:9::5", "2001:db8:4::10", 40000, 53, length: 80, ttl: 50, tos: 0x28);
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, six, out var o6));
        Assert.Equal(0x45, six[o6][0]);
        Assert.Equal(0x28, six[o6][1]);
        Assert.Equal(50, six[o6][8]);
        Assert.Equal(0x60, six[o6][36] & 0xF0);

        var four = Udp("10.9.0.5", "172.16.4.10", 40000, 53, length: 64, ttl: 20, tos: 0x2E);
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, four, out var o4));
        var outer = four.AsSpan(o4);
        Assert.Equal(56 + 64, outer.Length);
        Assert.Equal(6, outer[0] >> 4);
        Assert.Equal(0x2E, (BinaryPrimitives.ReadUInt16BigEndian(outer) >> 4) & 0xFF);
        Assert.Equal(20, outer[7]);
        Assert.Equal(17, outer[6]);
        var udp = outer[40..];
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(udp[6..]));
        var sum = InternetChecksum.Add(0, outer[8..40]) + 17u + (uint)udp.Length;
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(sum, udp)));
        Assert.Equal(0x45, outer[56]);
    }

    [Fact]
    public void A_too_big_packet_with_df_gets_icmp_with_the_usable_mtu_and_without_df_is_a_counted_drop()
    {
        _cache.Install(Record("172.16.4.0/24", L("198.51.100.2")), T0);
        _cache.Install(Record("2001:db8:4::/48", L("2001:db8:ffff::2")), T0);
        var itr = Itr(mtu: 1500);

        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, Udp("10.9.0.5", "172.16.4.10", 1, 2, length: 1464), out _));
        var big = Udp("10.9.0.5", "172.16.4.10", 1, 2, length: 1465);
        Assert.Equal(ItrVerdict.IcmpReply, Run(itr, big, out var reply));
        var icmp = _icmp.AsSpan(reply);
        Assert.Equal(1, icmp[9]);
        Assert.Equal(Bits("10.9.0.5"), (UInt128)BinaryPrimitives.ReadUInt32BigEndian(icmp[16..]));
        Assert.Equal((3, 4), (icmp[20], icmp[21]));
        Assert.Equal(1464, BinaryPrimitives.ReadUInt16BigEndian(icmp[26..]));
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(0, icmp[20..])));
        Assert.Equal(big.AsSpan(ItrEncapsulator.Headroom, 20).ToArray(), icmp[28..48].ToArray());

        Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp("10.9.0.5", "172.16.4.10", 1, 2, length: 1465, df: false), out _));
        Assert.Equal(1, _counters.Dropped(DataPlaneDrop.TooBigNoDf));

        Assert.Equal(ItrVerdict.IcmpReply, Run(itr, Udp("2001:db8:9::5", "2001:db8:4::10", 1, 2, length: 1445), out var reply6));
        var ptb = _icmp.AsSpan(reply6);
        Assert.Equal(58, ptb[6]);
        Assert.Equal((2, 0), (ptb[40], ptb[41]));
        Assert.Equal(1444u, BinaryPrimitives.ReadUInt32BigEndian(ptb[44..]));
        var sum = InternetChecksum.Add(0, ptb[8..40]) + 58u + (uint)(ptb.Length - 40);
        Assert.Equal(0, InternetChecksum.Finish(InternetChecksum.Add(sum, ptb[40..])));
        Assert.Equal(2, _counters.Dropped(DataPlaneDrop.TooBig));
    }

    [Fact]
    public void Without_a_queue_a_miss_asks_for_a_map_request_once_per_interval_and_counts_the_drops()
    {
        var itr = Itr();
        for (var i = 0; i < 5; i++) Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp("10.9.0.5", "172.16.4.10", 1, 2), out _));
        Run(itr, Udp("10.9.0.5", "172.16.4.11", 1, 2), out _);

        Assert.Equal(["172.16.4.10", "172.16.4.11"], _signals.Misses.Select(a => a.ToString()));
        Assert.Equal(6, _counters.Dropped(DataPlaneDrop.MapCacheMiss));
        Assert.Equal(ItrVerdict.Dropped, itr.Encapsulate(Udp("10.9.0.5", "172.16.4.10", 1, 2), ItrEncapsulator.Headroom, 64, T0.AddSeconds(1), _icmp, out _));
        Assert.Equal(3, _signals.Misses.Count);
    }

    [Fact]
    public void Multicast_broadcast_and_link_local_destinations_are_dropped_without_a_map_request_even_under_a_default_mapping()
    {
        // The kernel's own MLD reports leave through the TUN once IPv6 is up on it: ff02::16 from a link-local source.
        _cache.Install(Record("0.0.0.0/0", L("198.51.100.2")), T0);
        _cache.Install(Record("::/0", L("198.51.100.2")), T0);
        var itr = Itr();
        foreach (var (s, d) in new[] { ("fe80::1", "ff02::16"), ("2001:db8:9::5", "fe80::2"), ("2001:db8:9::5", "ff0e::1"), ("10.9.0.5", "224.0.0.22"),
                     ("10.9.0.5", "255.255.255.255"), ("10.9.0.5", "169.254.1.1"), ("10.9.0.5", "0.0.0.1") })
        {
            Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp(s, d, 1, 2), out _));
        }

        Assert.Equal(7, _counters.Dropped(DataPlaneDrop.NotUnicast));
        Assert.Empty(_signals.Misses);
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, Udp("10.9.0.5", "172.16.4.10", 1, 2), out _));
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, Udp("2001:db8:9::5", "2001:db8:4::10", 1, 2), out _));
    }

    [Fact]
    public void Negative_entries_act_as_their_action_says()
    {
        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.1.0/24"), Action = MapReplyAction.NativelyForward }, T0);
        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.2.0/24"), Action = MapReplyAction.Drop }, T0);
        _cache.Install(new MappingRecord { Eid = EidPrefix.Parse("172.16.3.0/24"), Action = MapReplyAction.SendMapRequest }, T0);
        var itr = Itr();

        var native = Udp("10.9.0.5", "172.16.1.10", 1, 2);
        Assert.Equal(ItrVerdict.Native, Run(itr, native, out var output));
        Assert.Equal(native[ItrEncapsulator.Headroom..], native[output]);
        Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp("10.9.0.5", "172.16.2.10", 1, 2), out _));
        Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp("10.9.0.5", "172.16.3.10", 1, 2), out _));

        Assert.Equal(1, _counters.NativelyForwarded);
        Assert.Equal(1, _counters.Dropped(DataPlaneDrop.NegativeEntry));
        Assert.Equal(["172.16.3.10"], _signals.Misses.Select(a => a.ToString()));
    }

    [Fact]
    public void Locators_of_a_family_without_a_local_rloc_are_skipped_and_none_left_is_a_counted_drop()
    {
        _cache.Install(Record("172.16.4.0/24", L("2001:db8:ffff::2", 1), L("198.51.100.2", 2)), T0);
        _cache.Install(Record("172.16.5.0/24", L("2001:db8:ffff::2", 1)), T0);
        var itr = Itr(rlocs: "192.0.2.1");

        var buffer = Udp("10.9.0.5", "172.16.4.10", 1, 2);
        Assert.Equal(ItrVerdict.Encapsulated, Run(itr, buffer, out var output));
        Assert.Equal(0x45, buffer[output][0]);
        Assert.Equal(ItrVerdict.Dropped, Run(itr, Udp("10.9.0.5", "172.16.5.10", 1, 2), out _));
        Assert.Equal(1, _counters.Dropped(DataPlaneDrop.NoUsableRloc));
    }

    [Fact]
    public void Garbage_from_the_tun_is_counted_and_never_throws()
    {
        var itr = Itr();
        var random = new Random(15);
        for (var i = 0; i < 2000; i++)
        {
            var buffer = new byte[ItrEncapsulator.Headroom + random.Next(0, 100)];
            random.NextBytes(buffer);
            var verdict = itr.Encapsulate(buffer, ItrEncapsulator.Headroom, buffer.Length - ItrEncapsulator.Headroom, T0, _icmp, out _);
            Assert.Equal(ItrVerdict.Dropped, verdict);
        }

        Assert.True(_counters.Dropped(DataPlaneDrop.BadInnerPacket) > 1000);
    }
}
