using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using LispMobility.Platform;
using Microsoft.Extensions.Logging.Abstractions;
using static LispMobility.MappingSystem.Tests.UdpTests;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The Linux recvmmsg/sendmmsg path of the UDP shell: whole batches, replies in order, the engine's buffers copied.</summary>
public sealed class BatchTransportTests
{
    [Fact]
    public void One_receive_takes_every_queued_datagram_with_its_sender()
    {
        using var server = Bind("127.10.31.1");
        using var a = Bind("127.10.31.2");
        using var b = Bind("127.10.31.3");
        for (var i = 0; i < 10; i++) (i % 2 == 0 ? a : b).SendTo(new byte[] { (byte)i, 0xAB }, server.LocalEndPoint!);
        Thread.Sleep(50);

        using var batch = new MessageBatch(64, 2048);
        var n = batch.Receive((int)server.SafeHandle.DangerousGetHandle(), out var errno);

        Assert.Equal(0, errno);
        Assert.Equal(10, n);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(new[] { (byte)i, (byte)0xAB }, batch.Payload(i).ToArray());
            var sender = (i % 2 == 0 ? a : b).LocalEndPoint!.Serialize();
            Assert.True(batch.Address(i).SequenceEqual(sender.Buffer.Span[..sender.Size]), $"sender of datagram {i}");
            Assert.False(batch.Truncated(i));
        }
    }

    [Fact]
    public async Task Replies_to_bursts_arrive_whole_and_in_order_though_the_engine_reuses_its_buffer()
    {
        await using var transport = new UdpDatagramTransport(new Echo(), [new IPEndPoint(IPAddress.Parse("127.10.31.4"), 0)], NullLogger.Instance);
        transport.Start();
        var server = transport.LocalEndpoints[0];
        using var a = Bind("127.10.31.5");
        using var b = Bind("127.10.31.6");
        const int Count = 1000;
        foreach (var s in new[] { a, b }) s.ReceiveBufferSize = 4 << 20;
        var datagram = new byte[4];
        for (var i = 1; i <= Count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            a.SendTo(datagram, server);
            b.SendTo(datagram, server);
        }

        // Each sender gets every echo (and every tenth a 10,000-byte reply, larger than a batch slot) in the order it sent.
        foreach (var s in new[] { a, b })
        {
            s.ReceiveTimeout = 5000;
            var buffer = new byte[65536];
            for (var i = 1; i <= Count; i++)
            {
                foreach (var length in i % 10 == 0 ? new[] { 4, Echo.Large } : new[] { 4 })
                {
                    var received = s.Receive(buffer);
                    Assert.Equal(length, received);
                    Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
                    if (length == Echo.Large) Assert.Equal((byte)i, buffer[Echo.Large - 1]);
                }
            }
        }

        Assert.Equal(2 * Count, transport.Received);
        await UdpTests.WaitUntil(() => transport.Sent == 2 * (Count + Count / 10));
        Assert.Equal(0, transport.SendErrors);
    }

    [Fact]
    public async Task A_reply_to_a_family_without_a_socket_is_counted_and_the_rest_still_go()
    {
        await using var transport = new UdpDatagramTransport(new Echo { AlsoTo = new IPEndPoint(IPAddress.IPv6Loopback, 4342) },
            [new IPEndPoint(IPAddress.Parse("127.10.31.7"), 0)], NullLogger.Instance);
        transport.Start();
        using var client = Bind("127.10.31.8");
        client.ReceiveTimeout = 5000;
        client.SendTo(new byte[] { 0, 0, 0, 7 }, transport.LocalEndpoints[0]);

        var buffer = new byte[16];
        Assert.Equal(4, client.Receive(buffer));
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(buffer));
        // Sent is counted when sendmmsg returns, which may be after the echo arrived.
        await UdpTests.WaitUntil(() => transport.Sent == 1);
        Assert.Equal(1, transport.SendErrors);
    }

    [Fact]
    public void Runs_to_one_destination_leave_as_segmented_sends_and_arrive_as_the_datagrams_queued()
    {
        using var sender = Bind("127.10.31.9");
        using var a = Bind("127.10.31.10");
        using var b = Bind("127.10.31.11");
        var toA = a.LocalEndPoint!.Serialize();
        var toB = b.LocalEndPoint!.Serialize();

        // A: 11 (ten of 100 bytes, the run's last shorter), B: 3, A: 70 (one run of 64, the kernel's old limit, then 6).
        var plan = Enumerable.Repeat((toA, 100), 10).Append((toA, 40)).Concat(Enumerable.Repeat((toB, 100), 3))
            .Concat(Enumerable.Repeat((toA, 100), 70)).ToList();
        using var batch = new MessageBatch(128, 2048, segment: true);
        for (var i = 0; i < plan.Count; i++)
        {
            var payload = new byte[plan[i].Item2];
            BinaryPrimitives.WriteInt32BigEndian(payload, i);
            payload[^1] = (byte)i;
            Assert.True(batch.TryAdd(payload, plan[i].Item1.Buffer.Span[..plan[i].Item1.Size]));
        }

        Assert.Equal(plan.Count, batch.Send((int)sender.SafeHandle.DangerousGetHandle(), 0, out var errno));
        Assert.Equal(0, errno);
        Assert.True(batch.Segmenting);
        Assert.Equal(4, batch.SegmentedSends);

        // Each receiver gets every datagram whole, in the order queued, one receive each.
        var buffer = new byte[4096];
        foreach (var (socket, address) in new[] { (a, toA), (b, toB) })
        {
            socket.ReceiveTimeout = 5000;
            for (var i = 0; i < plan.Count; i++)
            {
                if (!ReferenceEquals(plan[i].Item1, address)) continue;
                Assert.Equal(plan[i].Item2, socket.Receive(buffer));
                Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
                Assert.Equal((byte)i, buffer[plan[i].Item2 - 1]);
            }

            Assert.Equal(0, socket.Available);
        }
    }

    [Fact]
    public void A_segmented_send_the_kernel_refuses_turns_segmenting_off_and_the_datagrams_still_go()
    {
        // Linux refuses UDP GSO (EINVAL) on a socket that omits UDP checksums (SO_NO_CHECK), as it refuses it (EIO) on a device
        // that cannot checksum: plain datagrams still go.
        using var sender = Bind("127.10.31.14");
        sender.SetRawSocketOption(1, 11, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_NO_CHECK
        using var receiver = Bind("127.10.31.15");
        var to = receiver.LocalEndPoint!.Serialize();
        using var batch = new MessageBatch(8, 2048, segment: true);
        for (var i = 0; i < 5; i++) Assert.True(batch.TryAdd(new byte[] { (byte)i, 1, 2, 3 }, to.Buffer.Span[..to.Size]));

        var sent = batch.Send((int)sender.SafeHandle.DangerousGetHandle(), 0, out var errno);

        Assert.Equal(5, sent);
        Assert.Equal(0, errno);
        Assert.False(batch.Segmenting);
        Assert.Equal(22, batch.SegmentationRefused); // EINVAL
        Assert.Equal(0, batch.SegmentedSends);
        receiver.ReceiveTimeout = 5000;
        var buffer = new byte[64];
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(4, receiver.Receive(buffer));
            Assert.Equal((byte)i, buffer[0]);
        }
    }

    [Fact]
    public async Task The_replies_of_one_batch_to_one_sender_leave_segmented()
    {
        await using var transport = new UdpDatagramTransport(new Echo(), [new IPEndPoint(IPAddress.Parse("127.10.31.12"), 0)], NullLogger.Instance);
        using var client = Bind("127.10.31.13");
        for (var i = 1; i <= 9; i++)
        {
            var datagram = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            client.SendTo(datagram, new IPEndPoint(IPAddress.Parse("127.10.31.12"), transport.LocalEndpoints[0].Port));
        }

        // Started after the nine are queued, so the first recvmmsg takes them all and their nine echoes form one run.
        transport.Start();
        client.ReceiveTimeout = 5000;
        var buffer = new byte[64];
        for (var i = 1; i <= 9; i++)
        {
            Assert.Equal(4, client.Receive(buffer));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(buffer));
        }

        await UdpTests.WaitUntil(() => transport.Sent == 9);
        Assert.Equal(1, transport.SegmentedSends);
    }

    /// <summary>Echoes each datagram from one buffer it overwrites on the next call (one receive loop), and every tenth also a large reply.</summary>
    private sealed class Echo : IDatagramEngine
    {
        public const int Large = 10_000;
        private readonly byte[] _reply = new byte[4];
        private readonly byte[] _large = new byte[Large];

        public IPEndPoint? AlsoTo { get; init; }

        public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
        {
            datagram[..4].CopyTo(_reply);
            if (AlsoTo is not null) sink.Send(_reply, AlsoTo);
            sink.Send(_reply, source);
            var n = BinaryPrimitives.ReadInt32BigEndian(datagram);
            if (n % 10 != 0) return;
            datagram[..4].CopyTo(_large);
            _large[^1] = (byte)n;
            sink.Send(_large, source);
        }

        public TimeSpan? OnTimer(IDatagramSink sink) => null;
    }
}
