using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using LispMobility.Platform;
using Microsoft.Extensions.Logging.Abstractions;
using static LispMobility.MappingSystem.Tests.Lab;
using static LispMobility.MappingSystem.Tests.UdpTests;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The UDP shell: several receive loops keep one sender's datagrams in order, and a port in use is refused.</summary>
public sealed class TransportTests
{
    [Fact]
    public async Task Several_receive_loops_keep_each_senders_datagrams_in_order()
    {
        var engine = new SequenceRecorder();
        await using var transport = new UdpDatagramTransport(engine, [new IPEndPoint(IPAddress.Parse("127.10.30.1"), 0)], NullLogger.Instance, receiveLoopsPerSocket: 2);
        transport.Start();
        var server = transport.LocalEndpoints[0];
        Assert.Single(transport.LocalEndpoints);

        using var a = Bind("127.10.30.2");
        using var b = Bind("127.10.30.3");
        var datagram = new byte[8];
        const int Count = 20_000;
        for (var i = 1; i <= Count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            a.SendTo(datagram, server);
            b.SendTo(datagram, server);
            if (i % 200 == 0) await UdpTests.WaitUntil(() => transport.Received >= 2L * i - 400);
        }

        await UdpTests.WaitUntil(() => transport.Received == 2 * Count);
        Assert.Equal(0, engine.OutOfOrder);
        Assert.Equal(2 * Count, engine.Total);
    }

    [Fact]
    public async Task A_port_held_by_a_group_of_receive_loops_is_refused_to_a_second_group()
    {
        var endpoint = new IPEndPoint(IPAddress.Parse("127.10.30.4"), 0);
        await using var first = new UdpDatagramTransport(new SequenceRecorder(), [endpoint], NullLogger.Instance, receiveLoopsPerSocket: 2);
        var taken = first.LocalEndpoints[0];
        var e = Assert.Throws<InvalidOperationException>(() => new UdpDatagramTransport(new SequenceRecorder(), [taken], NullLogger.Instance, receiveLoopsPerSocket: 2));
        Assert.Contains(taken.ToString(), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Burst_of_map_registers_from_one_xtr_is_accepted_without_false_replays()
    {
        await using var service = await StartAsync(UdpOptions("127.10.30.5:0") with { ReceiveLoops = 0 });
        var server = service.LocalEndpoints[0];
        Assert.True(service.Transport!.ReceiveLoopsPerSocket == Environment.ProcessorCount || !OperatingSystem.IsLinux());
        using var xtr = Bind("127.10.1.1");
        const int Count = 3000;
        for (var i = 1; i <= Count; i++)
        {
            var eid = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"10.1.{i / 256}.{i % 256}/32");
            xtr.SendTo(Register((ulong)i, Dc1Secret, Record(eid, 1440, "127.10.1.1")), server);
            if (i % 100 == 0) await UdpTests.WaitUntil(() => service.Server.Counters.RegistersAccepted + service.Server.Counters.Rejected(RejectReason.Replay) >= i - 100);
        }

        await UdpTests.WaitUntil(() => service.Server.Counters.RegistersAccepted + service.Server.Counters.Rejected(RejectReason.Replay) == Count);
        Assert.Equal(0, service.Server.Counters.Rejected(RejectReason.Replay));
        Assert.Equal(Count, service.Server.RegistrationCount);
    }

    [Fact]
    public async Task A_map_server_runs_one_receive_loop_unless_configured_for_more()
    {
        await using (var one = await StartAsync(UdpOptions("127.10.30.8:0")))
        {
            Assert.Equal(1, one.Transport!.ReceiveLoopsPerSocket);
        }

        await using var three = await StartAsync(UdpOptions("127.10.30.8:0") with { ReceiveLoops = 3 });
        Assert.Equal(OperatingSystem.IsLinux() ? 3 : 1, three.Transport!.ReceiveLoopsPerSocket);
    }

    [Fact]
    public async Task An_engine_that_throws_costs_one_datagram_and_stop_returns_promptly()
    {
        var engine = new SequenceRecorder { ThrowOn = 2 };
        var transport = new UdpDatagramTransport(engine, [new IPEndPoint(IPAddress.Parse("127.10.30.6"), 0)], NullLogger.Instance);
        transport.Start();
        using var client = Bind("127.10.30.7");
        var datagram = new byte[4];
        for (var i = 1; i <= 3; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            client.SendTo(datagram, transport.LocalEndpoints[0]);
        }

        await UdpTests.WaitUntil(() => transport.Received == 3);
        Assert.Equal(1, transport.EngineFaults);
        Assert.Equal(2, engine.Total);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await transport.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"stop took {clock.Elapsed}");
    }

    /// <summary>Counts datagrams whose sequence number is not above the previous one from the same sender.</summary>
    private sealed class SequenceRecorder : IDatagramEngine
    {
        private readonly Dictionary<IPEndPoint, int> _last = [];
        private int _outOfOrder, _total;

        public int OutOfOrder => Volatile.Read(ref _outOfOrder);

        public int Total => Volatile.Read(ref _total);

        public int ThrowOn { get; init; } = -1;

        public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
        {
            var n = BinaryPrimitives.ReadInt32BigEndian(datagram);
            if (n == ThrowOn) throw new InvalidOperationException("engine bug");
            lock (_last)
            {
                if (_last.TryGetValue(source, out var last) && n <= last) _outOfOrder++;
                _last[source] = n;
                _total++;
            }
        }

        public TimeSpan? OnTimer(IDatagramSink sink) => null;
    }
}
