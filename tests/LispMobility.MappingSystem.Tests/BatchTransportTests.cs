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
