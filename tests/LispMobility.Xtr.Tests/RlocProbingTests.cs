using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.DataPlane;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Xtr.Tests;

/// <summary>RLOC reachability: probes to the locators in use, a locator down after missed probes and up on an answer, LSBs honoured.</summary>
public sealed class RlocProbingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Dead = "192.0.2.1";
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(T0);
    private readonly List<XtrEvent> _events = [];

    private XtrEngine Itr(bool? probing = true)
    {
        var itr = new XtrEngine(_lab.SiteC() with { RlocProbing = probing, RlocProbeInterval = TimeSpan.FromSeconds(1), RlocProbeMissLimit = 3 }, new InMemoryRouteTable(), _time, new CountingNonces());
        itr.RegisterNow(new DatagramList());
        itr.EventRaised += (_, e) => _events.Add(e);
        return itr;
    }

    // The ITR learns 10.1.0.0/16 at the dying locator (priority 1) and at site A's (priority 2).
    private void Learn(XtrEngine itr)
    {
        var sent = new DatagramList();
        _ = itr.BeginResolve(IPAddress.Parse("10.1.0.5"), sent, refresh: true);
        Assert.True(EncapsulatedControlMessage.TryRead(sent.Items.Single().Payload.Span, out var ecm, out _));
        Assert.True(MapRequest.TryRead(ecm.InnerMessage.Span, out var request, out _));
        itr.Receive(new MapReply { Nonce = request.Nonce, Records = [Record()] }.ToArray(), _lab.Endpoint(_lab.Ms), sent);
    }

    private MappingRecord Record() => new()
    {
        Eid = EidPrefix.Parse("10.1.0.0/16"), Ttl = 1440,
        Locators = [new Locator(LispAddress.Parse(Dead), 1, 100), new Locator(LispAddress.Parse(_lab.A), 2, 100)],
    };

    private static List<(MapRequest Request, IPEndPoint To)> Probes(DatagramList sent) => sent.Items
        .Where(d => LispMessage.TryPeekType(d.Payload.Span, out var t) && t == LispMessageType.MapRequest)
        .Select(d => { Assert.True(MapRequest.TryRead(d.Payload.Span, out var r, out var e), e.ToString()); return (r, d.Destination); })
        .Where(p => p.r.Probe).ToList();

    // One probe round: the probes it sent, by locator.
    private Dictionary<string, MapRequest> Round(XtrEngine itr)
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        var sent = new DatagramList();
        itr.OnTimer(sent);
        return Probes(sent).ToDictionary(p => p.To.Address.ToString(), p => p.Request);
    }

    private static void Answer(XtrEngine itr, MapRequest probe, string from) =>
        itr.Receive(new MapReply { ProbeReply = true, Nonce = probe.Nonce }.ToArray(), new IPEndPoint(IPAddress.Parse(from), 4342), new DatagramList());

    private static string Chosen(XtrEngine itr) =>
        RlocSelector.Select(itr.MapCacheSnapshot.Lookup(LispAddress.Parse("10.1.0.5"), T0)!.LocatorArray, 12345, _ => true)!.Value.Address.ToString();

    [Fact]
    public void Each_remote_locator_in_the_map_cache_gets_a_probe_per_interval_to_its_control_port()
    {
        var itr = Itr();
        Learn(itr);

        var probes = Round(itr);

        Assert.Equal(new[] { Dead, _lab.A }.Order(), probes.Keys.Order());
        Assert.All(probes.Values, p => Assert.Equal(EidPrefix.Parse("10.1.0.0/16"), p.Records.Single()));
        Assert.All(probes.Values, p => Assert.Equal([LispAddress.Parse(_lab.C)], p.ItrRlocs));
        Assert.Equal(2, Round(itr).Count);
        Assert.Equal(4, itr.Counters.RlocProbesSent);
    }

    [Fact]
    public void A_locator_that_misses_three_probes_goes_down_and_the_itr_moves_to_the_next_then_back_when_it_answers()
    {
        var itr = Itr();
        Learn(itr);
        Assert.Equal(Dead, Chosen(itr));

        Dictionary<string, MapRequest> probes = [];
        for (var i = 0; i < 3; i++)
        {
            probes = Round(itr);
            Answer(itr, probes[_lab.A], _lab.A);
            Assert.Equal(Dead, Chosen(itr)); // two misses are not enough
        }

        probes = Round(itr); // the third miss
        Assert.Equal(_lab.A, Chosen(itr));
        Assert.Equal(1, itr.Counters.RlocsDown);
        var down = Assert.Single(_events.OfType<RlocReachabilityChanged>());
        Assert.Equal((LispAddress.Parse(Dead), false), (down.Rloc, down.Reachable));
        var status = itr.RemoteRlocStatus().Single(s => s.Rloc == LispAddress.Parse(Dead));
        Assert.Equal((false, "3 probes unanswered", 3, 4L, 0L, 3L, (TimeSpan?)null), (status.Up, status.DownReason, status.MissedInARow, status.ProbesSent, status.ProbesAnswered, status.ProbesMissed, status.RoundTrip));
        Assert.Equal(_time.GetUtcNow(), status.Since);

        _time.Advance(TimeSpan.FromMilliseconds(7));
        Answer(itr, probes[Dead], Dead);
        var back = itr.RemoteRlocStatus().Single(s => s.Rloc == LispAddress.Parse(Dead));
        Assert.Equal((true, null, 0, 1L, TimeSpan.FromMilliseconds(7)), (back.Up, back.DownReason, back.MissedInARow, back.ProbesAnswered, back.RoundTrip));

        Assert.Equal(Dead, Chosen(itr));
        Assert.Equal(1, itr.Counters.RlocsUp);
        Assert.True(_events.OfType<RlocReachabilityChanged>().Last().Reachable);
        Assert.Equal(0, itr.Counters.UnmatchedReplies);
    }

    [Fact]
    public void A_new_map_reply_does_not_bring_a_down_locator_back()
    {
        var itr = Itr();
        Learn(itr);
        for (var i = 0; i < 4; i++) Answer(itr, Round(itr)[_lab.A], _lab.A); // only site A's locator answers
        Assert.Equal(_lab.A, Chosen(itr));

        Learn(itr);

        Assert.Equal(_lab.A, Chosen(itr));
    }

    [Fact]
    public void A_replayed_or_unknown_probe_reply_changes_nothing()
    {
        var itr = Itr();
        Learn(itr);
        for (var i = 0; i < 4; i++) Answer(itr, Round(itr)[_lab.A], _lab.A); // only site A's locator answers

        itr.Receive(new MapReply { ProbeReply = true, Nonce = 0xDEAD }.ToArray(), new IPEndPoint(IPAddress.Parse(Dead), 4342), new DatagramList());

        Assert.Equal(_lab.A, Chosen(itr));
        Assert.Equal(1, itr.Counters.UnmatchedReplies);
    }

    [Fact]
    public void The_remote_sites_locator_status_bits_take_a_locator_down_and_up()
    {
        var itr = Itr(probing: false);
        Learn(itr);

        itr.TakeLocatorStatusBits(LispAddress.Parse("10.1.0.5"), 0b10, 8, new DatagramList());
        Assert.Equal(_lab.A, Chosen(itr));
        Assert.Equal("its site's locator-status bits say down", _events.OfType<RlocReachabilityChanged>().Single().Reason);

        itr.TakeLocatorStatusBits(LispAddress.Parse("10.1.0.5"), 0b11, 8, new DatagramList());
        Assert.Equal(Dead, Chosen(itr));
        Assert.Equal((1, 1), (itr.Counters.RlocsDown, itr.Counters.RlocsUp));

        itr.TakeLocatorStatusBits(LispAddress.Parse("10.99.0.5"), 0, 8, new DatagramList()); // no entry: nothing to honour
        Assert.Equal(2, _events.OfType<RlocReachabilityChanged>().Count());
    }

    [Fact]
    public void The_etr_passes_on_received_locator_status_bits_once_per_interval_per_itr_and_value()
    {
        var signals = new DataPlanePackets.Signals();
        var eids = new LocalEids([EidPrefix.Parse("172.16.4.0/24")], [], []);
        var etr = new EtrDecapsulator(new DataPlaneSettings { LocalRlocs = [LispAddress.Parse("192.0.2.50")], InstanceId = 5 }, () => eids, new DataPlaneCounters(), signals);
        bool Send(uint lsbs, double seconds)
        {
            var inner = DataPlanePackets.Udp("10.1.0.5", "172.16.4.10", 40000, 443, offset: 0);
            var payload = new byte[8 + 64];
            new DataPlaneHeader { NoncePresent = true, InstanceIdPresent = true, InstanceId = 5, LocatorStatusBitsEnabled = true, LocatorStatusBits = lsbs }.Write(payload);
            inner.AsSpan(0, 64).CopyTo(payload.AsSpan(8));
            return etr.TryDecapsulate(payload, AddressKind.IPv4, DataPlanePackets.Bits("198.51.100.9"), DataPlanePackets.Bits("192.0.2.50"), T0.AddSeconds(seconds), out _);
        }

        Assert.True(Send(0b11, 0));
        Assert.True(Send(0b11, 0.5));
        Assert.True(Send(0b10, 0.6));
        Assert.True(Send(0b11, 1.5));

        Assert.Equal([(LispAddress.Parse("[5]10.1.0.5"), 0b11u, 8), (LispAddress.Parse("[5]10.1.0.5"), 0b10u, 8), (LispAddress.Parse("[5]10.1.0.5"), 0b11u, 8)], signals.StatusBits);
    }

    [Fact]
    public void Without_the_data_plane_nor_the_setting_nothing_is_probed()
    {
        var itr = Itr(probing: null);
        Learn(itr);

        Assert.Empty(Round(itr));
        Assert.Equal(0, itr.Counters.RlocProbesSent);
    }

    [Fact]
    public void The_etr_answers_a_probe_with_a_probe_reply_for_its_eid_and_one_for_an_eid_it_does_not_hold()
    {
        var etr = new XtrEngine(_lab.SiteA(), new InMemoryRouteTable(), _time, new CountingNonces());
        foreach (var (eid, records) in new[] { ("10.1.0.0/16", 1), ("10.77.0.0/16", 0) })
        {
            var sent = new DatagramList();
            var probe = new MapRequest { Probe = true, Nonce = 0x77, ItrRlocs = [LispAddress.Parse(_lab.C)], Records = [EidPrefix.Parse(eid)] };
            etr.Receive(probe.ToArray(), new IPEndPoint(IPAddress.Parse(_lab.C), 4342), sent);

            var d = Assert.Single(sent.Items);
            Assert.True(MapReply.TryRead(d.Payload.Span, out var reply, out _));
            Assert.True(reply.ProbeReply);
            Assert.Equal(0x77UL, reply.Nonce);
            Assert.Equal(records, reply.Records.Count);
            Assert.Equal(_lab.Endpoint(_lab.C), d.Destination);
        }

        Assert.Equal(2, etr.Counters.RlocProbeRepliesSent);
    }

    [Fact]
    public void Probe_settings_are_validated()
    {
        var errors = (_lab.SiteC() with { RlocProbeInterval = TimeSpan.Zero, RlocProbeMissLimit = 0 }).Validate();

        Assert.Contains(errors, e => e.Contains("RlocProbeInterval", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RlocProbeMissLimit", StringComparison.Ordinal));
        Assert.Empty(_lab.SiteC().Validate());
        Assert.Equal(TimeSpan.FromSeconds(10), _lab.SiteC().RlocProbeInterval);
    }
}
