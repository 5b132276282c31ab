using System.Net;
using System.Net.Sockets;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using LispMobility.TestSupport.Simulation;

namespace LispMobility.Xtr.Tests;

/// <summary>
/// The xTRs as deployed: three <see cref="XtrNode"/>s and the embedded Map-Server service on real UDP sockets, each on its
/// own 127.20.N.x address, port 4342.
/// </summary>
public sealed class UdpMoveTests : IAsyncLifetime
{
    private static readonly IPAddress Host = IPAddress.Parse("10.200.0.7");
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private readonly XtrLab _lab = XtrLab.Fresh();
    private readonly InMemoryRouteTable _routesA = new(), _routesB = new();
    private MapServerService _ms = null!;
    private XtrNode _a = null!, _b = null!, _c = null!;

    public async Task InitializeAsync()
    {
        var options = _lab.MapServer();
        _ms = new MapServerService(new MapServer(options), options, NullLoggerFactory.Instance);
        await _ms.StartAsync(default);
        _a = new XtrNode(_lab.SiteA(), _routesA);
        _b = new XtrNode(_lab.SiteB(), _routesB);
        _c = new XtrNode(_lab.SiteC(), new InMemoryRouteTable());
        _a.Start();
        _b.Start();
        _c.Start();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _c.DisposeAsync();
        await _ms.DisposeAsync();
    }

    [Fact]
    public async Task A_restart_names_the_eids_the_crashed_run_held_away_and_clears_every_route_it_left()
    {
        // What a kill -9 leaves in the kernel: a blackhole for a host that had moved away, a local route for one that was here.
        var routes = new InMemoryRouteTable();
        routes.Set(new HostRoute(IPAddress.Parse("10.200.0.8"), HostRouteKind.Blackhole, null));
        routes.Set(new HostRoute(IPAddress.Parse("10.200.0.9"), HostRouteKind.Local, "srv"));
        await _c.DisposeAsync();
        _c = new XtrNode(_lab.SiteC(), routes);
        _c.Start();

        Assert.Equal([IPAddress.Parse("10.200.0.8")], _c.HeldAwayByLastRun);
        Assert.DoesNotContain(routes.List(), r => r.Address.Equals(IPAddress.Parse("10.200.0.8")) || r.Address.Equals(IPAddress.Parse("10.200.0.9")));
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > until) Assert.Fail($"not within {Patience.TotalSeconds} s: {what}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Concurrent_registrations_reach_the_map_server_in_nonce_order_so_none_is_dropped_as_a_replay()
    {
        // Nonces are drawn when a Map-Register is built: the timer's periodic registers (dozens of chunks every 20 ms here)
        // and many API registrations at once must not send them overtaking each other.
        await _a.DisposeAsync();
        _a = new XtrNode(_lab.SiteA() with { QuickRegisterInterval = TimeSpan.FromMilliseconds(20) }, _routesA);
        _a.Start();
        var hosts = Enumerable.Range(1, 3000).Select(i => IPAddress.Parse($"10.200.{i / 250}.{i % 250 + 1}")).ToList();
        foreach (var batch in hosts.Chunk(500))
        {
            await Task.WhenAll(batch.Select(h => Task.Run(() => _a.RegisterHostAsync(h, "vm")))).WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal(0, _ms.Server.Counters.Rejected(RejectReason.Replay));
        Assert.Equal(0, _a.Engine.Counters.RegisterRetransmits);
    }

    [Fact]
    public async Task Host_moves_A_to_B_and_C_ends_with_B_after_the_SMR_solicited_by_B()
    {
        await _a.RegisterHostAsync(Host, "vm").WaitAsync(Patience);
        var before = await _c.ResolveAsync(Host).WaitAsync(Patience);
        Assert.Equal(_lab.A, before.Locators.Single().Address.ToString());
        // B talks to a host at C, so C's RLOC is in B's map-cache "in use".
        Assert.Equal(_lab.C, (await _b.ResolveAsync(IPAddress.Parse("10.3.0.1")).WaitAsync(Patience)).Locators.Single().Address.ToString());

        await _b.RegisterHostAsync(Host, "vm").WaitAsync(Patience);
        Assert.Equal(1, _b.SolicitRemoteItrs(Host));

        await Eventually(() => _c.Engine.LookupMapCache(Host)?.Locators.Single().Address.ToString() == _lab.B, "C's map-cache holds B's RLOC");
        await Eventually(() => _a.Engine.HostOf(Host)?.State == HostState.Away, "A has the host away");
        await _a.RouteProgramming.WhenIdleAsync();
        await _b.RouteProgramming.WhenIdleAsync();
        Assert.Equal(new HostRoute(Host, HostRouteKind.Blackhole, null), _routesA.Get(Host));
        Assert.Equal(new HostRoute(Host, HostRouteKind.Local, "vm0"), _routesB.Get(Host));
        Assert.True(_c.Engine.Counters.SmrsReceived >= 1);
        await Eventually(() => _ms.Server.Counters.NotifyAcks == 1, "the Map-Server has A's Map-Notify-Ack");
    }

    [Fact]
    public async Task Hostile_datagrams_are_counted_and_the_loop_keeps_running()
    {
        using var attacker = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        attacker.Bind(new IPEndPoint(IPAddress.Parse($"127.20.{_lab.A.Split('.')[2]}.66"), 0));
        var target = _lab.Endpoint(_lab.A);
        var random = new Random(9);
        for (var i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(1, 300)];
            random.NextBytes(junk);
            junk[0] = (byte)((random.Next(1, 9) << 4) | (junk[0] & 0x0F)); // every LISP type, garbage after it
            await attacker.SendToAsync(junk, target);
        }

        // A Map-Notify from a stranger (well-formed and signed with the right key) is refused and counted.
        var forged = new Lisp.Messages.MapNotify
        {
            Nonce = 1, KeyId = 1, Records = [new Lisp.Records.MappingRecord { Eid = Lisp.Addressing.EidPrefix.Parse("10.200.0.7/32"), Locators = [new Lisp.Records.Locator(Lisp.Addressing.LispAddress.Parse("192.0.2.66"))] }],
        }.ToSignedArray(System.Text.Encoding.UTF8.GetBytes(XtrLab.KeyA));
        await attacker.SendToAsync(forged, target);

        await _a.RegisterHostAsync(Host, "vm").WaitAsync(Patience);
        await Eventually(() => _a.Engine.Counters.MalformedCount + _a.Engine.Counters.UnexpectedCount + _a.Engine.Counters.NotifiesRejected >= 150, "hostile datagrams counted");
        Assert.True(_a.Engine.Counters.NotifiesRejected >= 1);
        Assert.Equal(HostState.Registered, _a.Engine.HostOf(Host)?.State);
        await _a.RouteProgramming.WhenIdleAsync();
        Assert.Equal(HostRouteKind.Local, _routesA.Get(Host)!.Kind);
    }

    [Fact]
    public async Task Many_eids_resolved_at_once_each_get_their_mapping_and_the_unanswered_ones_a_timeout()
    {
        var hosts = Enumerable.Range(1, 300).Select(i => IPAddress.Parse($"10.200.4.{i % 250 + 1}")).Distinct().ToList();
        await Task.WhenAll(_b.RegisterHostsAsync(hosts)).WaitAsync(Patience);

        var answers = await _c.ResolveManyAsync(hosts, refresh: true).WaitAsync(Patience);

        Assert.Equal(hosts.Count, answers.Count);
        Assert.All(answers, a => Assert.Null(a.Error));
        Assert.Equal(hosts.Select(h => h + "/32"), answers.Select(a => a.Entry!.Eid.ToString()));
        Assert.All(answers, a => Assert.Equal(_lab.B, Assert.Single(a.Entry!.Locators).Address.ToString()));

        // A Map-Resolver that never answers: every EID of the set ends with a timeout naming it, after one resolve timeout.
        await using var deaf = new XtrNode(_lab.SiteC() with { Listen = [$"{_lab.Ms2}:4342"], MapResolvers = [$"{_lab.Ms2}:4343"], ResolveTimeout = TimeSpan.FromMilliseconds(300) },
            new InMemoryRouteTable());
        var unanswered = await deaf.ResolveManyAsync(hosts[..3], refresh: true).WaitAsync(Patience);
        Assert.Equal(hosts[..3].Select(h => $"no Map-Reply for {h} within 0.3 s"), unanswered.Select(a => Assert.IsType<TimeoutException>(a.Error).Message));
        Assert.All(unanswered, a => Assert.Null(a.Entry));
    }
}
