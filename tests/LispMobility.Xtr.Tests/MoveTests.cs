using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem;
using LispMobility.TestSupport;
using LispMobility.Platform;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// A host moves between sites A and B while site C's ITR talks to it: the real xTR engines and the real Map-Server
/// engine joined by an in-memory wire on a FakeTimeProvider, so every step (and every lost datagram) is deterministic.
/// </summary>
public sealed class MoveTests
{
    private static readonly IPAddress Host = IPAddress.Parse("10.200.0.7");
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(TestClock.Start);
    private readonly SimulatedNetwork _net = new();
    private readonly InMemoryRouteTable _routesA = new(), _routesB = new();
    private readonly MapServer _ms;
    private readonly XtrEngine _a, _b, _c;

    public MoveTests()
    {
        _ms = new MapServer(_lab.MapServer(), _time);
        _a = new XtrEngine(_lab.SiteA(), _routesA, _time);
        _b = new XtrEngine(_lab.SiteB(), _routesB, _time);
        _c = new XtrEngine(_lab.SiteC(), new InMemoryRouteTable(), _time);
        _net.Attach(Ep(_lab.Ms), _ms);
        _net.Attach(Ep(_lab.A), _a);
        _net.Attach(Ep(_lab.B), _b);
        _net.Attach(Ep(_lab.C), _c);
    }

    private IPEndPoint Ep(string address) => _lab.Endpoint(address);

    private void Advance(double seconds)
    {
        _time.Advance(TimeSpan.FromSeconds(seconds));
        _net.Tick();
    }

    private async Task HostAtAWithCachedEntryAtC()
    {
        await _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        var entry = await _net.Call(Ep(_lab.C), s => _c.BeginResolve(Host, s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), _lab.A), (entry.Eid, entry.Locators.Single().Address.ToString()));
    }

    [Fact]
    public async Task News_heard_again_after_the_host_came_back_is_acknowledged_again_and_does_not_undo_its_new_registration()
    {
        await _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        // The move to B: A hears the news and goes away, but its acknowledgement is lost.
        _net.Drop = (type, from, _, _) => type == LispMessageType.MapNotifyAck && from.Equals(Ep(_lab.A));
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        _net.Drop = (_, _, _, _) => false;

        // The host is back at A: A's registration crosses the news, which the Map-Server sends again.
        var back = _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s));
        for (var t = 0; t < 5 && !back.IsCompleted; t++) Advance(1);

        await back.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Registered, _a.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Local, _routesA.Get(Host)!.Kind);
        Assert.Equal(1, _a.Counters.HostsAway); // once, for the move to B; not again for the copy
        Assert.True(_a.Counters.NotifyDuplicates >= 1);
        Assert.Equal(HostState.Away, _b.HostOf(Host)?.State);
    }

    [Fact]
    public async Task Move_A_to_B_leaves_A_away_with_a_blackhole_B_local_and_C_refreshed_by_SMR()
    {
        await HostAtAWithCachedEntryAtC();
        var cEvents = new List<XtrEvent>();
        _c.EventRaised += (_, e) => cEvents.Add(e);
        var aEvents = new List<XtrEvent>();
        _a.EventRaised += (_, e) => aEvents.Add(e);

        var result = await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(1, result.Transmissions);
        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        Assert.Equal(new HostRoute(Host, HostRouteKind.Blackhole, null), _routesA.Get(Host));
        var away = Assert.IsType<HostAway>(Assert.Single(aEvents));
        Assert.Equal(_lab.B, away.NewRlocs.Single().Address.ToString());
        Assert.Equal(1, _net.Count(LispMessageType.MapNotifyAck, Ep(_lab.A), Ep(_lab.Ms)));
        Assert.Equal(1, _ms.Counters.NotifyAcks);
        Assert.Equal(0, _ms.PendingNotifyCount);
        Assert.Equal(HostState.Registered, _b.HostOf(Host)?.State);
        Assert.Equal(new HostRoute(Host, HostRouteKind.Local, "vm0"), _routesB.Get(Host));

        // The Map-Server's SMR (sent with the Map-Register that changed the mapping) made C ask again through it.
        var smr = Assert.IsType<SmrReceived>(cEvents[0]);
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), Ep(_lab.Ms)), (smr.Eid, smr.From));
        var update = Assert.Single(cEvents.OfType<MapCacheUpdated>());
        Assert.True(update.SmrInvoked);
        Assert.Equal(_lab.B, _c.LookupMapCache(Host)!.Locators.Single().Address.ToString());
        Assert.Equal(MapCacheSource.Smr, _c.LookupMapCache(Host)!.LearnedBy);
        var request = _net.Log.Last(l => l.Type == LispMessageType.EncapsulatedControlMessage && l.From.Equals(Ep(_lab.C)));
        Assert.True(EcmView.TryRead(request.Payload, out var ecm, out _));
        Assert.True(MapRequestView.TryRead(ecm.InnerMessage, out var view, out _));
        Assert.True(view.SmrInvoked);
    }

    [Fact]
    public async Task An_away_host_answers_map_requests_with_a_rate_limited_SMR_not_a_map_reply()
    {
        await HostAtAWithCachedEntryAtC();
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        var stale = EncapsulatedControlMessage.Wrap(new MapRequest
        {
            Nonce = 77, SourceEid = LispAddress.Parse("10.3.0.9"), ItrRlocs = [LispAddress.Parse(_lab.C)], Records = [EidPrefix.Parse("10.200.0.7/32")],
        }, LispAddress.Parse(_lab.C), LispAddress.Parse("10.200.0.7")).ToArray();

        var replies = new DatagramList();
        _a.Receive(stale, Ep(_lab.Ms), replies);
        _a.Receive(stale, Ep(_lab.Ms), replies);

        var smr = Assert.Single(replies.Items);
        Assert.Equal(Ep(_lab.C), smr.Destination);
        Assert.True(MapRequest.TryRead(smr.Payload.Span, out var message, out _));
        Assert.True(message.Smr);
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), message.Records.Single());
        Assert.Equal(1, _a.Counters.SmrsSuppressed);
        Assert.Equal(0, _a.Counters.MapRepliesSent - 1); // the one reply it sent was before the move
        _time.Advance(TimeSpan.FromSeconds(3));
        replies.Clear();
        _a.Receive(stale, Ep(_lab.Ms), replies);
        Assert.Single(replies.Items);
    }

    [Fact]
    public async Task A_lost_unsolicited_map_notify_is_retransmitted_and_the_old_site_still_goes_away()
    {
        await HostAtAWithCachedEntryAtC();
        var lost = 0;
        _net.Drop = (type, from, to, _) => type == LispMessageType.MapNotify && from.Equals(Ep(_lab.Ms)) && to.Equals(Ep(_lab.A)) && lost++ == 0;

        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Registered, _a.HostOf(Host)?.State);
        Assert.Equal(1, _ms.PendingNotifyCount);
        Advance(0.5); // the Map-Server's retransmission interval in the lab

        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesA.Get(Host)!.Kind);
        Assert.Equal(0, _ms.PendingNotifyCount);
    }

    [Fact]
    public async Task Moving_home_registers_then_withdraws_the_host_and_C_falls_back_to_the_home_aggregate_and_B_drops_its_blackhole()
    {
        var bEvents = new List<XtrEvent>();
        _b.EventRaised += (_, e) => bEvents.Add(e);
        await HostAtAWithCachedEntryAtC();
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Advance(0.001); // the Map-Server's SMR to C
        Assert.Equal(_lab.B, _c.LookupMapCache(Host)!.Locators.Single().Address.ToString());

        await _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Away, _b.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesB.Get(Host)!.Kind);
        await _net.Call(Ep(_lab.A), s => _a.BeginWithdrawHost(Host, s, removeRoute: false)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(new HostRoute(Host, HostRouteKind.Local, "vm0"), _routesA.Get(Host));
        Assert.Null(_a.HostOf(Host)?.State);
        // The /32 is gone from the mapping system: B, which held it away, is told and drops the blackhole (and acks).
        Assert.Null(_b.HostOf(Host)?.State);
        Assert.Null(_routesB.Get(Host));
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), Assert.Single(bEvents.OfType<HostAwayCleared>()).Eid);
        Assert.Equal(0, _ms.PendingNotifyCount);
        Assert.Equal(0, _ms.Counters.Rejected(RejectReason.UnmatchedNotifyAck));
        Advance(3.1); // the Map-Server's SMRs to C (one per 3 s per ITR and EID)
        var entry = _c.LookupMapCache(Host)!;
        Assert.Equal(_lab.A, entry.Locators.Single().Address.ToString());
    }

    [Fact]
    public async Task Home_move_whose_news_to_the_old_site_is_lost_ends_with_no_32_anywhere_and_no_blackhole()
    {
        await HostAtAWithCachedEntryAtC();
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Advance(0.5);
        var movesToB = 0;
        // The news that A took the host back never reaches B (its first transmission is lost); what follows does.
        _net.Drop = (type, from, to, payload) => type == LispMessageType.MapNotify && from.Equals(Ep(_lab.Ms)) && to.Equals(Ep(_lab.B))
            && MapNotify.TryRead(payload, out var n, out _) && n.Records.Any(r => r.Locators.Count > 0) && ++movesToB == 1;

        await _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Registered, _b.HostOf(Host)?.State); // B has not heard
        await _net.Call(Ep(_lab.A), s => _a.BeginWithdrawHost(Host, s, removeRoute: false)).WaitAsync(TimeSpan.FromSeconds(5));

        // B was told the /32 is gone (the later news replaced the lost one): it gives the host up and keeps no route.
        Assert.Null(_b.HostOf(Host)?.State);
        Assert.Null(_routesB.Get(Host));
        for (var t = 0; t < 30; t++) Advance(1); // periodic registrations and every retransmission window
        Assert.False(_ms.Lookup(LispAddress.Parse("10.200.0.7")) is { Eid.IsHost: true }, "a /32 came back");
        Assert.Null(_b.HostOf(Host)?.State);
        Assert.Null(_routesB.Get(Host));
        Assert.Equal(0, _ms.PendingNotifyCount);
    }

    [Fact]
    public async Task A_host_back_at_the_old_site_before_it_heard_it_left_is_registered_there_once_it_has_heard()
    {
        await HostAtAWithCachedEntryAtC();
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Advance(0.5);
        var heard = false;
        // B hears nothing of the move home to A and the withdrawal that follows, until B registers the host again.
        _net.Drop = (type, from, to, _) => type == LispMessageType.MapNotify && from.Equals(Ep(_lab.Ms)) && to.Equals(Ep(_lab.B)) && !heard;
        await _net.Call(Ep(_lab.A), s => _a.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        await _net.Call(Ep(_lab.A), s => _a.BeginWithdrawHost(Host, s, removeRoute: false)).WaitAsync(TimeSpan.FromSeconds(5));
        heard = true;

        // The VM is back at B: B's registration crosses the news; the Map-Server skips it (no acknowledgement) and says it again.
        var crossed = _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s));
        var e = await Assert.ThrowsAsync<XtrRegistrationException>(() => crossed.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("registered nowhere", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, _ms.Counters.Rejected(RejectReason.StaleRegistration));

        // The caller (the saga) tries again, now that B knows: a real move back.
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Registered, _b.HostOf(Host)?.State);
        Assert.Equal(_lab.B, _ms.Lookup(LispAddress.Parse("10.200.0.7"))!.Rlocs.Single().Address.ToString());
        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
    }

    [Fact]
    public async Task Withdrawing_a_host_another_site_holds_keeps_it_away_with_its_blackhole()
    {
        await HostAtAWithCachedEntryAtC();
        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        var registers = _net.Count(LispMessageType.MapRegister, Ep(_lab.A));

        // A's saga moving the host home retries its withdrawal after B took the host again: a no-op, not a lost away state.
        await _net.Call(Ep(_lab.A), s => _a.BeginWithdrawHost(Host, s, removeRoute: false)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesA.Get(Host)!.Kind);
        Assert.Equal(registers, _net.Count(LispMessageType.MapRegister, Ep(_lab.A)));
    }

    [Fact]
    public async Task Withdrawal_ends_when_another_site_takes_the_host_instead_of_waiting_forever()
    {
        await HostAtAWithCachedEntryAtC();
        _net.Drop = (type, from, _, _) => type == LispMessageType.MapRegister && from.Equals(Ep(_lab.A)); // the withdrawal is lost
        var withdraw = _net.Call(Ep(_lab.A), s => _a.BeginWithdrawHost(Host, s));
        _net.Drop = (_, _, _, _) => false;

        await _net.Call(Ep(_lab.B), s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));

        await withdraw.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Away, _a.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesA.Get(Host)!.Kind);
    }
}
