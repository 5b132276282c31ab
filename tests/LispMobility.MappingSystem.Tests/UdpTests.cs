using System.Net;
using System.Net.Sockets;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// The Map-Server as deployed: the hosted service on real UDP sockets on loopback, xTRs on their own
/// 127.10.x.y addresses, ephemeral ports everywhere (Map-Notifies go back to the source port).
/// </summary>
public sealed class UdpTests : IAsyncLifetime
{
    private MapServerService _service = null!;

    public static MapServerOptions UdpOptions(params string[] listen) => Options() with
    {
        Listen = listen.Length == 0 ? ["127.10.20.1:0"] : listen,
        MapNotifyPort = 0,
        NotifyRetransmitInterval = TimeSpan.FromMilliseconds(300),
    };

    public async Task InitializeAsync() => _service = await StartAsync(UdpOptions());

    public async Task DisposeAsync() => await _service.DisposeAsync();

    private IPEndPoint Server => _service.LocalEndpoints[0];

    [Fact]
    public async Task Register_over_udp_gets_a_map_notify_and_is_listed()
    {
        using var xtr = Bind("127.10.1.1");
        await xtr.SendToAsync(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Server);
        var notify = await ReceiveAsync(xtr);
        Assert.True(MapNotify.TryRead(notify.Payload, out var message, out _));
        Assert.Equal(1ul, message.Nonce);
        Assert.Equal(Server, notify.From);
        var row = Assert.Single(_service.Server.ListRegistrations());
        Assert.Equal(xtr.LocalEndPoint, row.Registrant);
    }

    [Fact]
    public async Task Hostile_and_truncated_datagrams_never_stop_the_loop()
    {
        using var attacker = Bind("127.10.66.6");
        var valid = Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1"));
        var ecm = Request("10.1.0.5", (IPEndPoint)attacker.LocalEndPoint!);
        var random = new Random(7);
        for (var i = 0; i < 300; i++)
        {
            var junk = new byte[random.Next(1, 600)];
            random.NextBytes(junk);
            await attacker.SendToAsync(junk, Server);
            await attacker.SendToAsync(valid.AsMemory(0, random.Next(1, valid.Length)), Server);
            await attacker.SendToAsync(ecm.AsMemory(0, random.Next(1, ecm.Length)), Server);
        }

        await attacker.SendToAsync(Array.Empty<byte>(), Server);
        using var xtr = Bind("127.10.1.1");
        await xtr.SendToAsync(Register(2, Dc1Secret, Record("10.1.0.6/32", 1440, "127.10.1.1")), Server);
        var notify = await ReceiveAsync(xtr);
        Assert.True(MapNotify.TryRead(notify.Payload, out var message, out _));
        Assert.Equal(2ul, message.Nonce);
        Assert.Equal(0, _service.Transport!.EngineFaults);
        Assert.True(_service.Server.Counters.Rejected(RejectReason.Malformed) > 300);
        Assert.Equal(1, _service.Server.Counters.RegistersAccepted);
    }

    [Fact]
    public async Task Move_over_udp_retransmits_to_the_old_registrant_until_it_acks()
    {
        using var dc1 = Bind("127.10.1.1");
        using var dc2 = Bind("127.10.2.1");
        await dc1.SendToAsync(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Server);
        await ReceiveAsync(dc1);
        await dc2.SendToAsync(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Server);
        await ReceiveAsync(dc2);

        var first = await ReceiveAsync(dc1);
        var again = await ReceiveAsync(dc1);
        Assert.True(first.Payload.AsSpan().SequenceEqual(again.Payload));
        Assert.True(MapNotify.TryRead(first.Payload, out var notify, out _));
        Assert.Equal("127.10.2.1", notify.Records[0].Locators[0].Address.ToString());

        await dc1.SendToAsync(MapNotifyAck.For(notify).ToSignedArray(Key(Dc1Secret)), Server);
        await WaitUntil(() => _service.Server.PendingNotifyCount == 0);
        Assert.Equal(1, _service.Server.Counters.NotifyAcks);

        // Drain what was in flight when the ack arrived; then nothing more comes.
        while (await TryReceiveAsync(dc1, TimeSpan.FromMilliseconds(100)) is not null) { }
        Assert.Null(await TryReceiveAsync(dc1, TimeSpan.FromMilliseconds(900)));
    }

    [Fact]
    public async Task Map_request_is_forwarded_over_udp_to_the_etr_rloc_on_4342()
    {
        // The forward goes to the RLOC's port 4342: the ETR gets an address of its own for that.
        using var etr = Bind("127.10.47.1", LispPorts.Control);
        using var registrar = Bind("127.10.47.2");
        using var itr = Bind("127.10.9.9");
        await registrar.SendToAsync(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.47.1")), Server);
        await ReceiveAsync(registrar);
        var request = Request("10.1.0.5", (IPEndPoint)itr.LocalEndPoint!);
        await itr.SendToAsync(request, Server);

        var forwarded = await ReceiveAsync(etr);
        Assert.Equal(Server, forwarded.From);
        Assert.True(EcmView.TryRead(forwarded.Payload, out var ecm, out _));
        Assert.True(ecm.ForwardToEtr);
        Assert.True(EcmView.TryRead(request, out var original, out _));
        Assert.True(original.InnerMessage.SequenceEqual(ecm.InnerMessage));
        Assert.Equal(1, _service.Server.Counters.Forwarded);
    }

    [Fact]
    public async Task Ipv6_listen_on_loopback_works()
    {
        await using var service = await StartAsync(UdpOptions("[::1]:0") with
        {
            Sites = [new() { Name = "v6", EidPrefixes = [new() { Prefix = "2001:db8::/48", AcceptMoreSpecifics = true }], Keys = [new() { KeyId = 1, Key = "k6" }] }],
        });
        var server = service.LocalEndpoints[0];
        Assert.Equal(AddressFamily.InterNetworkV6, server.AddressFamily);

        using var xtr = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        xtr.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        await xtr.SendToAsync(Register(1, "k6", Record("2001:db8::7/128", 1440, "::1")), server);
        var notify = await ReceiveAsync(xtr);
        Assert.True(MapNotify.TryRead(notify.Payload, out var message, out _));
        Assert.Equal(EidPrefix.Parse("2001:db8::7/128"), message.Records[0].Eid);

        await xtr.SendToAsync(Request("2001:db8::8", (IPEndPoint)xtr.LocalEndPoint!), server);
        var reply = await ReceiveAsync(xtr);
        Assert.True(MapReply.TryRead(reply.Payload, out var negative, out _));
        Assert.Equal(Lisp.Records.MapReplyAction.SendMapRequest, negative.Records[0].Action);
    }

    [Fact]
    public async Task Port_in_use_fails_at_start_naming_the_address()
    {
        var taken = _service.LocalEndpoints[0].ToString();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(UdpOptions(taken)));
        Assert.Contains(taken, e.Message, StringComparison.Ordinal);
    }

    internal static async Task<MapServerService> StartAsync(MapServerOptions options)
    {
        var service = new MapServerService(new MapServer(options), options, NullLoggerFactory.Instance);
        try
        {
            await service.StartAsync(CancellationToken.None);
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }

        return service;
    }

    internal static Socket Bind(string address, int port = 0)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
        return s;
    }

    internal sealed record Received(byte[] Payload, IPEndPoint From);

    internal static async Task<Received> ReceiveAsync(Socket socket) =>
        await TryReceiveAsync(socket, TimeSpan.FromSeconds(5)) ?? throw new TimeoutException($"nothing arrived at {socket.LocalEndPoint} within 5 s");

    internal static async Task<Received?> TryReceiveAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[65535];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
            var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cts.Token);
            return new Received(buffer.AsSpan(0, r.ReceivedBytes).ToArray(), (IPEndPoint)r.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 5 s");
            await Task.Delay(10);
        }
    }
}
