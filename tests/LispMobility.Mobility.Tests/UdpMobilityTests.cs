using System.Globalization;
using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Platform.Routing;
using LispMobility.Xtr;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// Integration: a move saga, a DR failover with failback and a restore end to end on real UDP (loopback sockets, the UDP
/// shells of the Map-Server and the xTRs, route-programming queues, the wall clock). The same behaviours are tested in
/// detail on the simulated network (<see cref="MoveSagaTests"/>, <see cref="FailoverTests"/>, <see cref="RestoreTests"/>).
/// </summary>
public sealed class UdpMobilityTests : IAsyncLifetime
{
    private MobilityLab _lab = null!;

    public async Task InitializeAsync() => _lab = await MobilityLab.StartAsync();

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    [Fact]
    public async Task A_move_registers_the_host_at_the_new_site_the_old_site_goes_away_and_the_branch_follows()
    {
        var coordinator = _lab.Coordinator();
        var eid = IPAddress.Parse("172.16.1.10");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eid));

        var outcome = await coordinator.MoveAsync(new MoveIntent(eid, "vm-1", null, MobilityLab.Dc2, "migration", "test"));

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal([MoveStep.Registered, MoveStep.OldSiteAway, MoveStep.GatewaysConverged, MoveStep.RemoteItrsSolicited], outcome.Steps.Select(s => s.Step));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
        Assert.Equal(("172.16.1.10/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eid));
        Assert.Equal(HostState.Registered, _lab.Xtrs[MobilityLab.Dc2].HostOf(eid)?.State);
        await MobilityLab.Eventually(() => _lab.Xtrs[MobilityLab.Dc1].HostOf(eid)?.State == HostState.Away, "DC1 holds the host away");
        await _lab.Xtrs[MobilityLab.Dc1].RouteProgramming.WhenIdleAsync();
        Assert.Equal(HostRouteKind.Blackhole, _lab.Routes[MobilityLab.Dc1].Get(eid)?.Kind);
    }

    [Fact]
    public async Task Two_thousand_eids_fail_over_to_dc2_verified_by_lookup_and_fail_back_home()
    {
        const int count = 2000;
        var coordinator = _lab.Coordinator();
        var eids = Enumerable.Range(0, count).Select(i => IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"172.16.{100 + i / 250}.{i % 250 + 1}"))).ToList();
        foreach (var eid in eids) coordinator.Adopt(eid, MobilityLab.Dc1);

        var over = await coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2);

        Assert.True(over.Converged, string.Join("; ", over.NotConverged.Take(5).Select(n => $"{n.Eid}: {n.Reason}")));
        Assert.Equal(eids.ToHashSet(), over.Verified.ToHashSet());
        Assert.Equal(count, _lab.MapServer.Server.ListRegistrations().Count(r => r.Eid.IsHost && r.Site == MobilityLab.Dc2));
        Assert.Equal(($"{eids[1234]}/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eids[1234]));

        var back = await coordinator.FailoverAsync(MobilityLab.Dc2, MobilityLab.Dc1);

        Assert.True(back.Converged, string.Join("; ", back.NotConverged.Take(5).Select(n => $"{n.Eid}: {n.Reason}")));
        Assert.Equal(count, back.Verified.Count);
        Assert.DoesNotContain(_lab.MapServer.Server.ListRegistrations(), r => r.Eid.IsHost);
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eids[1234]));
    }

    [Fact]
    public async Task A_restarted_xtr_registers_again_the_hosts_the_journal_places_at_its_site()
    {
        var eids = Enumerable.Range(1, 5).Select(i => IPAddress.Parse($"172.16.7.{i}")).ToList();
        var before = _lab.Coordinator();
        foreach (var eid in eids) before.Adopt(eid, MobilityLab.Dc1);
        Assert.True((await before.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2)).Converged);

        // DC2's agent restarts: a new xTR that knows no host (its lookups of its old hosts go unanswered until the short timeout).
        await _lab.Xtrs[MobilityLab.Dc2].DisposeAsync();
        _lab.Routes[MobilityLab.Dc2] = new InMemoryRouteTable();
        _lab.Xtrs[MobilityLab.Dc2] = new XtrNode(_lab.XtrOptions(MobilityLab.Dc2) with { ResolveTimeout = TimeSpan.FromMilliseconds(500) }, _lab.Routes[MobilityLab.Dc2]);
        _lab.Xtrs[MobilityLab.Dc2].Start();
        var after = _lab.Coordinator(_lab.OpenStore());

        var (registered, skipped) = await after.RestoreAsync();

        Assert.Equal((5, 0), (registered, skipped.Count));
        Assert.All(eids, e => Assert.Equal(HostState.Registered, _lab.Xtrs[MobilityLab.Dc2].HostOf(e)?.State));
        await _lab.Xtrs[MobilityLab.Dc2].RouteProgramming.WhenIdleAsync();
        Assert.All(eids, e => Assert.Equal(HostRouteKind.Local, _lab.Routes[MobilityLab.Dc2].Get(e)!.Kind));
        Assert.Equal(($"{eids[2]}/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eids[2]));
    }
}
