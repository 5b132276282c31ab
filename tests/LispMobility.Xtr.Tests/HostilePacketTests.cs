using System.Net;
using System.Net.Sockets;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// Packets an outside fuzzer found to silence the xTR, and the rule they led to: nothing from the network throws out of the
/// engine or its timer, and one failing item never costs the tick's other work (the periodic Map-Registers above all).
/// </summary>
public sealed class HostilePacketTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(T0);

    // The fuzzer's packet: an SMR (type 1, S bit) from 10.0.0.3 whose one EID record is an AS-number LCAF (type 3),
    // AS 65000 + k: 34 bytes, sent unauthenticated to the control port.
    private static byte[] LcafSmr(int k)
    {
        var bytes = Convert.FromHexString("110000015eed5eed5eed5eed000000010a000003002040030000030000040000fde8");
        bytes[^1] = (byte)(0xe8 + k);
        return bytes;
    }

    private static int MapRegisters(DatagramList sent) =>
        sent.Items.Count(d => LispMessage.TryPeekType(d.Payload.Span, out var t) && t == LispMessageType.MapRegister);

    [Fact]
    public void Five_smrs_for_a_non_ip_lcaf_eid_are_dropped_and_the_periodic_registrations_go_on()
    {
        var xtr = new XtrEngine(_lab.SiteA(), new InMemoryRouteTable(), _time, new CountingNonces());
        var sent = new DatagramList();
        xtr.OnTimer(sent);
        Assert.True(MapRegisters(sent) >= 1);

        for (var k = 0; k < 5; k++) xtr.Receive(LcafSmr(k), new IPEndPoint(IPAddress.Parse("10.0.0.3"), 4342), sent);

        Assert.Equal(5, xtr.Counters.UnsupportedEids);
        Assert.Equal(5, xtr.Counters.SmrsReceived);
        sent.Clear();
        for (var second = 1; second <= 6 * 60; second++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            xtr.OnTimer(sent);
        }

        // 20 s apart during the first 5 minutes (quick registration), then every 60 s; one Map-Register carries both aggregates.
        Assert.InRange(MapRegisters(sent), 15, 17);
        Assert.DoesNotContain(sent.Items, d => LispMessage.TryPeekType(d.Payload.Span, out var t) && t == LispMessageType.EncapsulatedControlMessage);
        Assert.Equal(0, xtr.Counters.TimerFaults);
        Assert.Equal(0, xtr.Counters.ReceiveFaults);
    }

    [Fact]
    public void A_map_request_for_a_non_ip_eid_is_counted_as_unsupported_not_answered()
    {
        var xtr = new XtrEngine(_lab.SiteA(), new InMemoryRouteTable(), _time, new CountingNonces());
        xtr.OnTimer(new DatagramList());
        var sent = new DatagramList();
        var request = LcafSmr(0);
        request[0] = 0x10; // the same, without the S bit

        xtr.Receive(request, new IPEndPoint(IPAddress.Parse("10.0.0.3"), 4342), sent);

        Assert.Empty(sent.Items);
        Assert.Equal(1, xtr.Counters.UnsupportedEids);
        Assert.Equal(0, xtr.Counters.RequestsNotOurs);
    }

    [Fact]
    public async Task A_timer_item_that_throws_is_dropped_and_counted_and_the_ticks_registrations_still_leave()
    {
        var nonces = new ArmedNonces();
        var xtr = new XtrEngine(_lab.SiteC(), new InMemoryRouteTable(), _time, nonces);
        var sent = new DatagramList();
        xtr.OnTimer(sent); // the first periodic registration
        var lookup = xtr.BeginResolve(IPAddress.Parse("10.1.0.5"), sent);
        sent.Clear();

        nonces.Armed = true; // the resolution's retransmission draws a nonce and throws
        _time.Advance(TimeSpan.FromSeconds(20)); // the quick-registration interval: a periodic Map-Register is due in this tick too
        var next = xtr.OnTimer(sent);

        Assert.Equal(1, MapRegisters(sent));
        Assert.Equal(1, xtr.Counters.TimerFaults);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => lookup.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("10.1.0.5/32", failure.Message, StringComparison.Ordinal);
        Assert.NotNull(next);

        // The failed resolution is gone: later ticks neither throw again nor lose their registrations.
        nonces.Armed = false;
        sent.Clear();
        for (var i = 0; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            xtr.OnTimer(sent);
        }

        Assert.Equal(1, MapRegisters(sent));
        Assert.Equal(1, xtr.Counters.TimerFaults);
    }

    [Fact]
    public async Task A_lookup_whose_first_map_request_is_lost_succeeds_at_the_retransmission()
    {
        // A Map-Resolver on real UDP that ignores the first ECM Map-Request it gets and answers the next.
        using var resolver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        resolver.Bind(_lab.Endpoint(_lab.Ms));
        var answered = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            var ecms = 0;
            while (true)
            {
                var r = await resolver.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
                var datagram = buffer.AsSpan(0, r.ReceivedBytes);
                if (!LispMessage.TryPeekType(datagram, out var type) || type != LispMessageType.EncapsulatedControlMessage) continue;
                if (++ecms == 1) continue; // lost
                Assert.True(EncapsulatedControlMessage.TryRead(datagram, out var ecm, out var error), error.ToString());
                Assert.True(MapRequest.TryRead(ecm.InnerMessage.Span, out var request, out error), error.ToString());
                var reply = new MapReply
                {
                    Nonce = request.Nonce,
                    Records = [new MappingRecord { Eid = EidPrefix.Parse("10.1.0.0/16"), Ttl = 10, Locators = [new Locator(LispAddress.Parse(_lab.A))] }],
                };
                await resolver.SendToAsync(reply.ToArray(), SocketFlags.None, new IPEndPoint(request.ItrRlocs[0].ToIPAddress(), ecm.InnerSourcePort));
                return ecms;
            }
        });
        await using var itr = new XtrNode(_lab.SiteC(), new InMemoryRouteTable());
        itr.Start();

        // The fuzzer's SMRs first: before the fix the resolution they left threw on every tick ahead of the lookup's own
        // retransmission, so a lookup whose first Map-Request was lost failed after 5 s instead of succeeding at the retry.
        using (var fuzzer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            for (var k = 0; k < 5; k++) fuzzer.SendTo(LcafSmr(k), _lab.Endpoint(_lab.C));
        }

        for (var i = 0; i < 200 && itr.Engine.Counters.SmrsReceived < 5; i++) await Task.Delay(10);
        Assert.Equal(5, itr.Engine.Counters.UnsupportedEids);

        var entry = await itr.ResolveAsync(IPAddress.Parse("10.1.0.5"));

        Assert.Equal(EidPrefix.Parse("10.1.0.0/16"), entry.Eid);
        Assert.Equal(2, await answered);
        Assert.Equal(2, itr.Engine.Counters.MapRequestsSent);
    }

    /// <summary>Random nonces that throw while armed: a stand-in for any bug in a timer item.</summary>
    private sealed class ArmedNonces : NonceSource
    {
        public bool Armed { get; set; }

        public override ulong Next() => Armed ? throw new InvalidOperationException("injected fault") : Random.Next();
    }
}
