using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using LispMobility.Lisp.Addressing;
using LispMobility.Platform.DataPlane;
using LispMobility.Platform.DataPlane.FastPath;
using LispMobility.TestSupport.Netns;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The kernel fast path's programs for real, fed crafted packets: an xTR namespace (RLOC 198.51.100.2, the EID 172.16.4.10
/// on its loopback, a TUN "lisp0" with the route to 10.9.0.0/24) and a peer namespace (198.51.100.1) that sends LISP data
/// to it and receives what its ITR program encapsulates.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KernelFastPathTests : IDisposable
{
    private const uint Iid = 7;
    private readonly NetworkNamespace _xtr = NetworkNamespace.Create("lmfpx");
    private readonly NetworkNamespace _peer = NetworkNamespace.Create("lmfpp");
    private readonly TunDevice _tun;
    private readonly KernelFastPath _path;
    private readonly Socket _eid;
    private readonly Socket _userSpace;
    private readonly Socket _remote;

    public KernelFastPathTests()
    {
        try
        {
            _xtr.Ip($"link add wan type veth peer name wan netns {_peer.Name}");
            _xtr.Ip("addr add 198.51.100.2/24 dev wan");
            _peer.Ip("addr add 198.51.100.1/24 dev wan");
            _xtr.Ip("link set wan up");
            _peer.Ip("link set wan up");
            _xtr.Ip("link set lo up");
            _xtr.Ip("addr add 172.16.4.10/32 dev lo");
            _xtr.Exec("sysctl -qw net.ipv4.ip_forward=1");
            _tun = _xtr.Enter(() => new TunDevice("lisp0", 1464));
            _xtr.Enter(() => _tun.AddRoute(IPAddress.Parse("10.9.0.0"), 24, 223));
            _path = _xtr.Enter(() => KernelFastPath.Open(new FastPathSetup("lisp0", [IPAddress.Parse("198.51.100.2")], Iid, "lisp0x", 4340)));
            _eid = Bound(_xtr, "172.16.4.10", 9);
            _userSpace = Bound(_xtr, "198.51.100.2", 4341);
            _remote = Bound(_peer, "198.51.100.1", 4341);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _eid?.Dispose();
        _userSpace?.Dispose();
        _remote?.Dispose();
        _path?.Dispose();
        _tun?.Dispose();
        _xtr.Dispose();
        _peer.Dispose();
    }

    [Fact]
    public void Data_for_a_local_eid_is_decapsulated_in_the_kernel_and_delivered_and_its_locator_status_bits_reported()
    {
        Assert.Equal(["wan"], _path.EtrInterfaces);
        Assert.True(_path.SetEid(IPAddress.Parse("172.16.4.0"), 24, FastPathEidState.Local));
        var payload = RandomNumberGenerator.GetBytes(100);
        Send(Lisp(0xC8, Iid, 0x03, "10.9.0.5", "172.16.4.10", payload));

        Assert.Equal(payload, Receive(_eid));
        Assert.Null(TryReceive(_userSpace, 200));
        var counts = _path.ReadCounters();
        Assert.Equal((1, 0, 0), (counts.Decapsulated, counts.DecapsulatedSuperPackets, counts.AwayDropped));
        // A single packet enters the stack on the TUN at once; only super-packets take the VXLAN device's receive path.
        Assert.Equal("0", _xtr.Exec("cat /sys/class/net/lisp0x/statistics/rx_packets").Trim());
        var reports = Drain();
        Assert.Equal([new FastPathReport(FastPathReportKind.LocatorStatusBits, IPAddress.Parse("198.51.100.1"), IPAddress.Parse("10.9.0.5"), 3)], reports);
        // A report is taken once.
        Assert.Empty(Drain());
    }

    [Fact]
    public void Data_for_an_eid_that_moved_away_is_dropped_in_the_kernel_and_its_itr_reported_and_an_unlisted_one_delivered_and_reported()
    {
        Assert.True(_path.SetEid(IPAddress.Parse("172.16.4.0"), 24, FastPathEidState.Unlisted));
        Assert.True(_path.SetEid(IPAddress.Parse("172.16.4.11"), 32, FastPathEidState.Away));
        Send(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.11", [1, 2, 3]));
        Send(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.10", [4, 5, 6]));

        Assert.Equal([4, 5, 6], Receive(_eid));
        Assert.Null(TryReceive(_userSpace, 200));
        Assert.True(SpinWait.SpinUntil(() => _path.ReadCounters().AwayDropped == 1, 2000));
        Assert.Equal(
            [
                new FastPathReport(FastPathReportKind.Solicit, IPAddress.Parse("198.51.100.1"), IPAddress.Parse("172.16.4.10"), 0),
                new FastPathReport(FastPathReportKind.Solicit, IPAddress.Parse("198.51.100.1"), IPAddress.Parse("172.16.4.11"), 0),
            ],
            Drain().OrderBy(r => r.Eid.ToString()));

        // Taken out of the ETR map, the range's data goes to the user-space ETR (which judges it there).
        Assert.True(_path.DeleteEid(IPAddress.Parse("172.16.4.11"), 32));
        Assert.False(_path.DeleteEid(IPAddress.Parse("172.16.4.11"), 32));
        Assert.True(_path.DeleteEid(IPAddress.Parse("172.16.4.0"), 24));
        var packet = Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.11", [7]);
        Send(packet);
        Assert.Equal(packet, TryReceive(_userSpace, 2000));
    }

    [Theory]
    [InlineData("another instance ID")]
    [InlineData("no I bit")]
    [InlineData("N and V together")]
    [InlineData("truncated inner packet")]
    [InlineData("inner destination not ours")]
    [InlineData("inner length past the datagram")]
    public void What_the_etr_program_does_not_take_goes_to_the_user_space_etr_untouched(string what)
    {
        Assert.True(_path.SetEid(IPAddress.Parse("172.16.4.0"), 24, FastPathEidState.Local));
        var packet = what switch
        {
            "another instance ID" => Lisp(0x88, Iid + 1, 0, "10.9.0.5", "172.16.4.10", [1]),
            "no I bit" => Lisp(0x80, Iid, 0, "10.9.0.5", "172.16.4.10", [1]),
            "N and V together" => Lisp(0x98, Iid, 0, "10.9.0.5", "172.16.4.10", [1]),
            "truncated inner packet" => Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.10", [1])[..20],
            "inner destination not ours" => Lisp(0x88, Iid, 0, "10.9.0.5", "192.0.2.7", [1]),
            _ => Lengthened(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.10", [1])),
        };
        Send(packet);

        Assert.Equal(packet, TryReceive(_userSpace, 2000));
        Assert.Null(TryReceive(_eid, 100));
        Assert.Equal(0, _path.ReadCounters().Decapsulated);
    }

    [Fact]
    public void Vxlan_from_the_network_to_the_decapsulation_port_is_dropped_and_counted()
    {
        Assert.True(_path.SetEid(IPAddress.Parse("172.16.4.0"), 24, FastPathEidState.Local));
        var inner = Ipv4Udp("10.9.0.5", "172.16.4.10", [9, 9, 9]);
        var frame = new byte[8 + 14 + inner.Length];
        frame[0] = 0x08;
        frame[6] = 0x01;
        byte[] mac = [0x02, 0x4c, 0x49, 0x53, 0x50, 0x78];
        mac.CopyTo(frame, 8);
        frame[14] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), 0x0800);
        inner.CopyTo(frame, 22);
        _remote.SendTo(frame, new IPEndPoint(IPAddress.Parse("198.51.100.2"), 4340));

        Assert.True(SpinWait.SpinUntil(() => _path.ReadCounters().ForeignVxlanDropped == 1, 2000), "the forged VXLAN packet was not dropped");
        Assert.Null(TryReceive(_eid, 200));
    }

    [Fact]
    public void A_packet_routed_to_the_tun_for_a_mirrored_prefix_is_encapsulated_in_the_kernel_and_one_without_goes_to_the_tun()
    {
        var rloc = IPAddress.Parse("198.51.100.1");
        Assert.True(_path.SetRoute(IPAddress.Parse("10.9.0.0"), 24, new FastPathRoute(Iid, 0x01, IPAddress.Parse("198.51.100.2"), Enumerable.Repeat(rloc, 16).ToList())));
        using var sender = Bound(_xtr, "172.16.4.10", 7777);
        sender.Ttl = 40;
        var payload = RandomNumberGenerator.GetBytes(64);
        sender.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.9.0.5"), 9));

        var outer = TryReceive(_remote, 2000);
        Assert.NotNull(outer);
        // N, L and I; the instance ID and our LSB; the inner packet whole, with the TTL it was sent with (sent from this host).
        Assert.Equal(0xC8, outer[0]);
        Assert.Equal((Iid << 8) | 0x01, BinaryPrimitives.ReadUInt32BigEndian(outer.AsSpan(4)));
        Assert.Equal(IPAddress.Parse("10.9.0.5"), new IPAddress(outer.AsSpan(8 + 16, 4)));
        Assert.Equal(40, outer[8 + 8]);
        Assert.Equal(payload, outer[(8 + 28)..]);
        Assert.Equal(1, _path.ReadCounters().Encapsulated);
        // The route notes its use for the map-cache, once a second: a second packet at once adds no note.
        var used = new List<IPAddress>();
        Assert.Equal(1, _path.DrainUsed(used));
        Assert.Equal([IPAddress.Parse("10.9.0.5")], used);
        sender.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.9.0.5"), 9));
        Assert.NotNull(TryReceive(_remote, 2000));
        Assert.Equal(0, _path.DrainUsed(used));

        Assert.True(_path.DeleteRoute(IPAddress.Parse("10.9.0.0"), 24));
        sender.SendTo(payload, new IPEndPoint(IPAddress.Parse("10.9.0.5"), 9));
        Assert.Null(TryReceive(_remote, 300));
        Assert.Equal(2, _path.ReadCounters().Encapsulated);
    }

    [Fact]
    public void With_super_packets_only_the_itr_program_leaves_a_single_packet_to_the_tun()
    {
        _path.Dispose();
        using var bulk = _xtr.Enter(() => KernelFastPath.Open(new FastPathSetup("lisp0", [IPAddress.Parse("198.51.100.2")], Iid, "lisp0x", 4340, SuperPacketsOnly: true)));
        var rloc = IPAddress.Parse("198.51.100.1");
        Assert.True(bulk.SetRoute(IPAddress.Parse("10.9.0.0"), 24, new FastPathRoute(Iid, 0x01, IPAddress.Parse("198.51.100.2"), Enumerable.Repeat(rloc, 16).ToList())));
        using var sender = Bound(_xtr, "172.16.4.10", 7777);
        sender.SendTo(new byte[64], new IPEndPoint(IPAddress.Parse("10.9.0.5"), 9));
        Assert.Null(TryReceive(_remote, 300));
        Assert.Equal(0, bulk.ReadCounters().Encapsulated);
    }

    [Fact]
    public void Disposing_detaches_the_programs_and_deletes_the_decapsulation_device_and_a_leftover_is_replaced()
    {
        _path.Dispose();
        Assert.Throws<InvalidOperationException>(() => _xtr.Ip("link show lisp0x"));
        _xtr.Ip("link add lisp0x type vxlan external dstport 4340");
        using var again = _xtr.Enter(() => KernelFastPath.Open(new FastPathSetup("lisp0", [IPAddress.Parse("198.51.100.2")], Iid, "lisp0x", 4340)));
        // Ours, not the leftover: our MAC, and zero UDP checksums over IPv6 accepted.
        var link = _xtr.Ip("-d link show lisp0x");
        Assert.Contains("link/ether 02:4c:49:53:50:78", link, StringComparison.Ordinal);
        Assert.Contains("vxlan external", link, StringComparison.Ordinal);
        Assert.Contains(" udp6zerocsumrx", link, StringComparison.Ordinal);
        _xtr.Ip("link add br9 type bridge");
        var refused = Assert.Throws<IOException>(() => _xtr.Enter(() => KernelFastPath.Open(new FastPathSetup("lisp0", [IPAddress.Parse("198.51.100.2")], Iid, "br9", 4341))));
        Assert.Contains("br9 exists and is not a VXLAN device", refused.Message, StringComparison.Ordinal);
        Assert.Throws<IOException>(() => _xtr.Enter(() => KernelFastPath.Open(new FastPathSetup("lisp0", [IPAddress.Parse("203.0.113.1")], Iid, "lisp1x", 4341))));
    }

    [Fact]
    public void A_batch_take_empties_a_map_of_thousands_of_keys_each_once_and_one_short_of_room_leaves_the_rest()
    {
        var map = Bpf.CreateMap(Bpf.MapLruHash, 20, 8, 8192, 0, "lisp_test");
        try
        {
            var key = new byte[20];
            void Fill(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(key, i);
                    Assert.True(Bpf.Update(map, key, BitConverter.GetBytes((long)i)));
                }
            }

            Fill(5000);
            var keys = new byte[8192 * 20];
            var values = new byte[8192 * 8];
            Assert.Equal(5000, Bpf.TakeBatch(map, 20, keys, values));
            Assert.Equal(Enumerable.Range(0, 5000), Enumerable.Range(0, 5000).Select(i => BinaryPrimitives.ReadInt32LittleEndian(keys.AsSpan(i * 20))).Order());
            // Each value beside its key.
            Assert.All(Enumerable.Range(0, 5000), i => Assert.Equal(BinaryPrimitives.ReadInt32LittleEndian(keys.AsSpan(i * 20)), BitConverter.ToInt64(values, i * 8)));
            Assert.False(Bpf.NextKey(map, default, key));
            Assert.Equal(0, Bpf.TakeBatch(map, 20, keys, values));

            // Room for 4 of 10: at most 4 now (a bucket that does not fit whole waits), the rest at the next.
            Fill(10);
            var first = Bpf.TakeBatch(map, 20, new byte[4 * 20], new byte[4 * 8]);
            Assert.InRange(first, 1, 4);
            Assert.Equal(10 - first, Bpf.TakeBatch(map, 20, keys, values));
        }
        finally
        {
            Bpf.Close(map);
        }
    }

    [Fact]
    public void The_mirror_copies_the_etr_view_and_turns_the_programs_reports_into_smrs_and_locator_status_bits_and_counts()
    {
        var settings = new DataPlaneSettings { LocalRlocs = [LispAddress.Parse("198.51.100.2")], InstanceId = Iid };
        var view = new LocalEids([EidPrefix.Parse("172.16.4.0/24")], [], [LispAddress.Parse("172.16.4.11")]);
        var signals = new RecordingSignals();
        var counters = new DataPlaneCounters();
        var mirror = new FastPathMirror(_path, settings, () => MapCacheSnapshot.Empty, () => [], () => view, counters, signals, TimeProvider.System, NullLogger.Instance);
        mirror.Sync();
        Send(Lisp(0xC8, Iid, 0x01, "10.9.0.5", "172.16.4.10", [1]));
        Assert.Equal([1], Receive(_eid));
        Send(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.11", [2]));
        Assert.True(SpinWait.SpinUntil(() => _path.ReadCounters().AwayDropped == 1, 2000));

        mirror.Sync();
        Assert.Equal([("198.51.100.1", "172.16.4.11")], signals.Solicited);
        Assert.Equal([($"[{Iid}]10.9.0.5", 1u, 8)], signals.Bits);
        Assert.Equal((1, 1, 1), (counters.FastPathDecapsulated, counters.Decapsulated, counters.Dropped(DataPlaneDrop.EidAway)));
        // Reported again within the signal interval, nothing new is signalled.
        Send(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.11", [3]));
        Assert.True(SpinWait.SpinUntil(() => _path.ReadCounters().AwayDropped == 2, 2000));
        mirror.Sync();
        Assert.Single(signals.Solicited);
        Assert.Equal(2, counters.Dropped(DataPlaneDrop.EidAway));
    }

    private sealed class RecordingSignals : IDataPlaneSignals
    {
        public List<(string Itr, string Eid)> Solicited { get; } = [];

        public List<(string Eid, uint Bits, int Width)> Bits { get; } = [];

        public void MapCacheMiss(LispAddress destination)
        {
        }

        public void SolicitItr(LispAddress itrRloc, LispAddress eid) => Solicited.Add((itrRloc.ToString(), eid.ToString()));

        public void LocatorStatusBits(LispAddress sourceEid, uint bits, int width) => Bits.Add((sourceEid.ToString(), bits, width));
    }

    [Fact]
    public async Task A_mirror_that_fails_round_after_round_detaches_the_programs_and_user_space_gets_every_packet()
    {
        var settings = new DataPlaneSettings { LocalRlocs = [LispAddress.Parse("198.51.100.2")], InstanceId = Iid };
        var failing = false;
        var view = new LocalEids([EidPrefix.Parse("172.16.4.0/24")], [], []);
        var mirror = new FastPathMirror(_path, settings, () => MapCacheSnapshot.Empty, () => [],
            () => failing ? throw new InvalidOperationException("the engine is gone") : view, new DataPlaneCounters(), NoDataPlaneSignals.Instance, TimeProvider.System, NullLogger.Instance);
        mirror.Sync();
        Send(Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.10", [1]));
        Assert.Equal([1], Receive(_eid));

        failing = true;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var run = Task.Run(() => mirror.Run(stop.Token));
        await run.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(mirror.Detached);
        Assert.Throws<InvalidOperationException>(() => _xtr.Ip("link show lisp0x"));
        var packet = Lisp(0x88, Iid, 0, "10.9.0.5", "172.16.4.10", [2]);
        Send(packet);
        Assert.Equal(packet, TryReceive(_userSpace, 2000));
    }

    private void Send(byte[] lisp) => _remote.SendTo(lisp, new IPEndPoint(IPAddress.Parse("198.51.100.2"), 4341));

    private List<FastPathReport> Drain()
    {
        var reports = new List<FastPathReport>();
        _path.DrainReports(reports);
        return reports;
    }

    private static Socket Bound(NetworkNamespace ns, string address, int port) => ns.Enter(() =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
        return s;
    });

    private static byte[] Receive(Socket socket) => TryReceive(socket, 2000) ?? throw new TimeoutException($"nothing arrived at {socket.LocalEndPoint}");

    private static byte[]? TryReceive(Socket socket, int timeoutMs)
    {
        if (!socket.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return null;
        var buffer = new byte[2048];
        var n = socket.Receive(buffer);
        return buffer[..n];
    }

    // A LISP data header (flags, a nonce, the instance ID and LSBs) before an inner IPv4/UDP packet to port 9.
    private static byte[] Lisp(byte flags, uint iid, byte lsb, string source, string destination, byte[] payload)
    {
        var inner = Ipv4Udp(source, destination, payload);
        var packet = new byte[8 + inner.Length];
        packet[0] = flags;
        packet[1] = 0x12;
        packet[2] = 0x34;
        packet[3] = 0x56;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), iid << 8 | lsb);
        inner.CopyTo(packet, 8);
        return packet;
    }

    // The inner IPv4 header claims 40 bytes more than the datagram carries.
    private static byte[] Lengthened(byte[] lisp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(lisp.AsSpan(8 + 2), (ushort)(lisp.Length - 8 + 40));
        return lisp;
    }

    private static byte[] Ipv4Udp(string source, string destination, byte[] payload)
    {
        var p = DataPlanePackets.Udp(source, destination, 5555, 9, length: 28 + payload.Length, ttl: 64, tos: 0, offset: 0);
        payload.CopyTo(p, 28);
        return p;
    }
}
