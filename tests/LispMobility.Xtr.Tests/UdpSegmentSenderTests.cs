using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using LispMobility.Platform.DataPlane;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The ITR's UDP GSO sender on loopback: outer packets built as the encapsulator builds them leave from their own source port,
/// a run as one send, in the order queued; what it cannot send (another protocol, a port in use) is left to the caller.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class UdpSegmentSenderTests
{
    [Fact]
    public void A_run_of_one_flows_segments_leaves_as_one_gso_send_and_arrives_as_the_same_datagrams_from_the_flows_port()
    {
        using var receiver = Receiver();
        var port = FreePort();
        using var sender = new UdpSegmentSender();
        var payloads = Enumerable.Range(0, 6).Select(i => Enumerable.Repeat((byte)i, i == 5 ? 300 : 1000).ToArray()).ToArray();

        foreach (var p in payloads) Assert.True(sender.TryQueue(Outer(port, Port(receiver), ttl: 33, p)));
        sender.Flush();

        Assert.Equal(1, sender.SegmentedSends);
        Assert.Equal(0, sender.Errors);
        foreach (var p in payloads)
        {
            var (data, from) = Receive(receiver);
            Assert.Equal(p, data);
            Assert.Equal(port, from.Port);
        }
    }

    [Fact]
    public void Packets_of_two_flows_interleaved_arrive_in_the_order_queued()
    {
        using var receiver = Receiver();
        var (one, two) = (FreePort(), FreePort());
        using var sender = new UdpSegmentSender();

        Assert.True(sender.TryQueue(Outer(one, Port(receiver), 64, [1])));
        Assert.True(sender.TryQueue(Outer(two, Port(receiver), 64, [2])));
        Assert.True(sender.TryQueue(Outer(one, Port(receiver), 64, [3])));
        sender.Flush();

        Assert.Equal([(1, one), (2, two), (3, one)], Enumerable.Range(0, 3).Select(_ => Receive(receiver)).Select(r => ((int)r.Data[0], r.From.Port)).ToArray());
    }

    [Fact]
    public void Past_its_socket_limit_the_oldest_flow_is_closed_its_queued_packets_sent_first_and_opened_again_when_it_returns()
    {
        using var receiver = Receiver();
        var (one, two, three) = (FreePort(), FreePort(), FreePort());
        using var sender = new UdpSegmentSender(maxFlows: 2);

        // 3 is queued on the oldest flow's socket when the third flow needs one: it must leave before that socket closes.
        foreach (var (port, mark) in new[] { (one, 1), (two, 2), (one, 3), (three, 4), (one, 5), (two, 6) })
            Assert.True(sender.TryQueue(Outer(port, Port(receiver), 64, [(byte)mark])));
        sender.Flush();

        Assert.Equal(0, sender.Errors + sender.Unbound);
        Assert.Equal([(1, one), (2, two), (3, one), (4, three), (5, one), (6, two)],
            Enumerable.Range(0, 6).Select(_ => Receive(receiver)).Select(r => ((int)r.Data[0], r.From.Port)).ToArray());
    }

    [Fact]
    public void A_source_port_another_socket_holds_and_a_packet_that_is_not_udp_are_left_to_the_caller()
    {
        using var receiver = Receiver();
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var sender = new UdpSegmentSender();

        Assert.False(sender.TryQueue(Outer(Port(holder), Port(receiver), 64, [1])));
        Assert.Equal(1, sender.Unbound);
        var tcp = Outer(FreePort(), Port(receiver), 64, [1]);
        tcp[9] = 6;
        Assert.False(sender.TryQueue(tcp));
        Assert.False(sender.TryQueue(Outer(FreePort(), Port(receiver), 64, [1]).AsSpan(0, 24)));
        sender.Flush();
        Assert.Equal(0, receiver.Available);
    }

    [Fact]
    public void Packets_put_together_in_the_workspace_are_queued_where_they_lie_and_arrive_through_flow_changes_and_a_full_batch()
    {
        using var receiver = Receiver();
        var (one, two) = (FreePort(), FreePort());
        using var sender = new UdpSegmentSender(batchSize: 8);
        var expected = new List<(int Mark, int Port)>();

        // 20 packets on one flow overfill the batch of 8 (the ninth is put together outside it, then copied in after the
        // send); then flows alternate, each change sending the batch from under the packet in the workspace.
        for (var i = 0; i < 26; i++)
        {
            var port = i < 20 || i % 2 == 0 ? one : two;
            var workspace = sender.Workspace;
            var packet = Outer(port, Port(receiver), 64, Enumerable.Repeat((byte)i, 700).ToArray());
            packet.CopyTo(workspace);
            Assert.True(sender.TryQueue(workspace[..packet.Length]));
            expected.Add((i, port));
            // Queued in place: the next packet is put together elsewhere, so this one's bytes stay as they are.
            if (i < 7) Assert.False(sender.Workspace.Overlaps(workspace[..packet.Length]), $"packet {i}: the workspace did not move on");
        }

        sender.Flush();
        Assert.Equal(0, sender.Errors + sender.Unbound);
        var received = Enumerable.Range(0, 26).Select(_ => Receive(receiver)).ToArray();
        Assert.Equal(expected, received.Select(r => ((int)r.Data[0], r.From.Port)).ToArray());
        Assert.All(received, r => Assert.True(r.Data.Length == 700 && r.Data.All(b => b == r.Data[0])));
    }

    // An outer IPv4/UDP packet from 127.0.0.1:source to 127.0.0.1:destination, as PacketWriter lays it out.
    private static byte[] Outer(int source, int destination, byte ttl, byte[] payload)
    {
        var packet = new byte[28 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[6] = 0x40;
        packet[8] = ttl;
        packet[9] = 17;
        IPAddress.Loopback.GetAddressBytes().CopyTo(packet, 12);
        IPAddress.Loopback.GetAddressBytes().CopyTo(packet, 16);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(20), (ushort)source);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(22), (ushort)destination);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(24), (ushort)(8 + payload.Length));
        payload.CopyTo(packet, 28);
        return packet;
    }

    private static Socket Receiver()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    private static (byte[] Data, IPEndPoint From) Receive(Socket socket)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        var n = socket.ReceiveFrom(buffer, ref from);
        return (buffer[..n], (IPEndPoint)from);
    }

    private static int Port(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    // A port nothing holds now (the kernel's pick, released).
    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return Port(probe);
    }
}
