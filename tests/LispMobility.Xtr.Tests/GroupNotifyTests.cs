using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem;
using LispMobility.TestSupport;
using LispMobility.Platform;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Time.Testing;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// Extended-subnet mode: xTRs on the stretched LAN hear each other's registrations on the map-notify group. Site A has two
/// xTRs (A1 at A's address, A2 at .4, one RLOC set), site B one; the group fans out to all three on the in-memory wire.
/// </summary>
public sealed class GroupNotifyTests
{
    private static readonly IPAddress Host = IPAddress.Parse("10.200.0.7");
    private static readonly IPEndPoint Group = new(IPAddress.Parse("239.1.1.1"), 4342);
    private const string GroupKey = "stretched-lan-key";
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly FakeTimeProvider _time = new(TestClock.Start);
    private readonly SimulatedNetwork _net = new();
    private readonly InMemoryRouteTable _routesA1 = new(), _routesA2 = new(), _routesB = new();
    private readonly MapServer _ms;
    private readonly XtrEngine _a1, _a2, _b;
    private readonly IPEndPoint _a2Endpoint;

    public GroupNotifyTests()
    {
        _ms = new MapServer(_lab.MapServer(), _time);
        var a2Address = _lab.A[..^1] + "4";
        _a2Endpoint = _lab.Endpoint(a2Address);
        _a1 = new XtrEngine(Extended(_lab.SiteA()), _routesA1, _time);
        _a2 = new XtrEngine(Extended(_lab.SiteA()) with { Listen = [$"{a2Address}:4342"], XtrId = "a2" }, _routesA2, _time);
        _b = new XtrEngine(Extended(_lab.SiteB()), _routesB, _time);
        _net.Attach(_lab.Endpoint(_lab.Ms), _ms);
        _net.Attach(A1, _a1);
        _net.Attach(_a2Endpoint, _a2);
        _net.Attach(B, _b);
        _net.Attach(Group, new FanOut(_a1, _a2, _b));
    }

    private IPEndPoint A1 => _lab.Endpoint(_lab.A);

    private IPEndPoint B => _lab.Endpoint(_lab.B);

    private static XtrOptions Extended(XtrOptions site) => site with
    {
        DynamicEids = [new() { Name = "vm", Prefix = "10.200.0.0/16", Interface = "vm0", Mode = MobilityMode.ExtendedSubnet, MapNotifyGroup = "239.1.1.1", MapNotifyGroupKey = GroupKey }],
    };

    /// <summary>A multicast group on the wire: every member gets the datagram (its sender too, as with IP_MULTICAST_LOOP).</summary>
    private sealed class FanOut(params XtrEngine[] members) : IDatagramEngine
    {
        public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
        {
            foreach (var m in members) m.Receive(datagram, source, sink);
        }

        public TimeSpan? OnTimer(IDatagramSink sink) => null;
    }

    [Fact]
    public async Task A_registration_is_announced_on_the_group_with_the_site_rlocs_signed_with_the_group_key()
    {
        await _net.Call(A1, s => _a1.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));

        var sent = Assert.Single(_net.Log, l => l.To.Equals(Group));
        Assert.Equal((LispMessageType.MapNotify, A1), (sent.Type, sent.From));
        Assert.True(MapNotify.TryReadView(sent.Payload, out var view, out _));
        Assert.True(view.VerifyAuthentication(System.Text.Encoding.UTF8.GetBytes(GroupKey), Lisp.Auth.AuthPurpose.MapNotify));
        Assert.Equal(_a1.XtrId, view.XtrId);
        Assert.True(MapNotify.TryRead(sent.Payload, out var notify, out _));
        var record = Assert.Single(notify.Records);
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), _lab.A), (record.Eid, Assert.Single(record.Locators).Address.ToString()));
        Assert.Equal(1, _a1.Counters.GroupNotifiesSent);
        Assert.Equal(0, _net.Count(LispMessageType.MapNotifyAck, to: Group)); // nobody acknowledges a multicast
        Assert.Equal((0, 1, 1), (_a1.Counters.GroupNotifiesReceived, _a2.Counters.GroupNotifiesReceived, _b.Counters.GroupNotifiesReceived));
        Assert.Null(_b.HostOf(Host)?.State); // B never held the host: nothing to do
        Assert.Null(_routesB.Get(Host));
    }

    [Fact]
    public async Task The_old_site_goes_away_from_the_group_alone_when_the_map_servers_notify_is_lost()
    {
        await _net.Call(B, s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        _net.Drop = (type, from, to, _) => type == LispMessageType.MapNotify && from.Equals(_lab.Endpoint(_lab.Ms)) && to.Equals(B);

        await _net.Call(A1, s => _a1.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(HostState.Away, _b.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesB.Get(Host)!.Kind);
        Assert.Equal(0, _b.Counters.NotifyAcksSent); // the Map-Server's notify never arrived
    }

    [Fact]
    public async Task A_group_announcement_from_before_this_site_found_the_host_does_not_stop_its_registration()
    {
        await _net.Call(B, s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        var late = _net.Log.Single(l => l.To.Equals(Group) && l.From.Equals(B)).Payload;
        var dropped = 0;
        _net.Drop = (type, from, _, _) => type == LispMessageType.MapRegister && from.Equals(A1) && dropped++ == 0;
        var task = _net.Call(A1, s => _a1.BeginRegisterHost(Host, "vm", s));

        // B's announcement, sent before the host came to A, read by A1 only now (it sat in the socket).
        _a1.Receive(late, B, new DatagramList());

        Assert.Equal(HostState.Registering, _a1.HostOf(Host)?.State);
        Assert.Equal(1, _a1.Counters.GroupNotifiesDeferred);
        _time.Advance(TimeSpan.FromSeconds(1));
        _net.Tick(); // the retransmission reaches the Map-Server, which orders the claims: A's is the later one
        await task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Registered, _a1.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Local, _routesA1.Get(Host)!.Kind);
        Assert.Equal(HostState.Away, _b.HostOf(Host)?.State);
    }

    [Fact]
    public async Task A_sibling_xtr_that_held_the_host_away_drops_its_blackhole_when_the_host_comes_back_to_its_site()
    {
        await _net.Call(_a2Endpoint, s => _a2.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        await _net.Call(B, s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HostState.Away, _a2.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Blackhole, _routesA2.Get(Host)!.Kind);
        var events = new List<XtrEvent>();
        _a2.EventRaised += (_, e) => events.Add(e);

        // Back at site A, found by A1 this time: the Map-Server tells B (its registrant), only the group tells A2.
        await _net.Call(A1, s => _a1.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Null(_a2.HostOf(Host)?.State);
        Assert.Null(_routesA2.Get(Host));
        Assert.Single(events.OfType<HostAwayCleared>());
        Assert.Equal(HostState.Away, _b.HostOf(Host)?.State);
        Assert.Equal(HostState.Registered, _a1.HostOf(Host)?.State);
    }

    [Fact]
    public async Task A_group_message_with_a_wrong_key_or_from_ourselves_changes_nothing()
    {
        await _net.Call(B, s => _b.BeginRegisterHost(Host, "vm", s)).WaitAsync(TimeSpan.FromSeconds(5));
        var forged = new MapNotify
        {
            Nonce = 9, KeyId = 1, Algorithm = Lisp.Auth.AuthAlgorithm.HmacSha256_128, XtrId = 77,
            Records = [new Lisp.Records.MappingRecord { Eid = EidPrefix.Parse("10.200.0.7/32"), Ttl = 1440, Locators = [new Lisp.Records.Locator(LispAddress.Parse(_lab.A), 1, 100)] }],
        };

        _b.Receive(forged.ToSignedArray(System.Text.Encoding.UTF8.GetBytes("not-the-key")), _a2Endpoint, new DatagramList());
        _b.Receive(forged.ToSignedArray(System.Text.Encoding.UTF8.GetBytes(XtrLab.KeyB)), _a2Endpoint, new DatagramList()); // a site key is not the group's
        _b.Receive((forged with { XtrId = _b.XtrId }).ToSignedArray(System.Text.Encoding.UTF8.GetBytes(GroupKey)), _a2Endpoint, new DatagramList());

        Assert.Equal(HostState.Registered, _b.HostOf(Host)?.State);
        Assert.Equal(HostRouteKind.Local, _routesB.Get(Host)!.Kind);
        Assert.Equal(2, _b.Counters.NotifiesRejected);
        Assert.Equal(0, _b.Counters.GroupNotifiesReceived);
    }

    [Theory]
    [InlineData("10.1.1.1", "is not an IPv4 multicast address")]
    [InlineData("ff02::1", "is not an IPv4 multicast address")]
    public void A_bad_group_is_refused_naming_its_path(string group, string why)
    {
        var errors = (Extended(_lab.SiteA()) with { DynamicEids = [new() { Name = "vm", Prefix = "10.200.0.0/16", Mode = MobilityMode.ExtendedSubnet, MapNotifyGroup = group, MapNotifyGroupKey = GroupKey }] }).Validate();
        Assert.Contains(errors, e => e.StartsWith("Xtr.DynamicEids[0].MapNotifyGroup: ", StringComparison.Ordinal) && e.Contains(why, StringComparison.Ordinal));
        var across = (_lab.SiteA() with { DynamicEids = [new() { Name = "vm", Prefix = "10.200.0.0/16", MapNotifyGroup = "239.1.1.1" }] }).Validate();
        Assert.Contains(across, e => e.StartsWith("Xtr.DynamicEids[0].MapNotifyGroup: only an extended-subnet range", StringComparison.Ordinal));
        Assert.Contains(across, e => e.StartsWith("Xtr.DynamicEids[0].MapNotifyGroupKey: required", StringComparison.Ordinal));
    }
}
