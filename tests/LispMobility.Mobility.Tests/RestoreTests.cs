using System.Net;
using LispMobility.Xtr;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// What an agent knows after a restart or after other sites' agents moved its EIDs on: the /32s the journal says live at its
/// sites registered again, and no stale owner for an EID whose /32 left. On the simulated network with a manual clock
/// (<see cref="UdpMobilityTests"/> runs one on UDP).
/// </summary>
public sealed class RestoreTests : IAsyncLifetime
{
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromMilliseconds(500);
    private SimulatedMobilityLab _lab = null!;

    public Task InitializeAsync()
    {
        _lab = SimulatedMobilityLab.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    // DC2's xTR after a restart (it knows no host). Its lookups of the hosts it registered go unanswered: the Map-Server
    // forwards them to it. They time out on the manual clock (AdvanceUntilAsync).
    private void RestartDc2()
    {
        _lab.StopXtr(MobilityLab.Dc2);
        _lab.StartXtr(MobilityLab.Dc2, o => o with { ResolveTimeout = ResolveTimeout });
    }

    // DC1's own agent: it drives only DC1's xTR, with a journal of its own (closed when the lab is disposed).
    private MobilityCoordinator Dc1Agent() => _lab.AgentOf(MobilityLab.Dc1, "dc1-agent.db");

    [Fact]
    public async Task A_restarted_xtr_registers_again_the_hosts_the_journal_places_at_its_site()
    {
        var eids = Enumerable.Range(1, 5).Select(i => IPAddress.Parse($"172.16.7.{i}")).ToList();
        var before = _lab.Coordinator();
        foreach (var eid in eids) before.Adopt(eid, MobilityLab.Dc1);
        Assert.True((await before.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2)).Converged);

        // DC2's agent restarts: a new xTR that knows no host, a new coordinator over the same journal.
        RestartDc2();
        var after = _lab.Coordinator(_lab.OpenStore());
        Assert.All(eids, e => Assert.Null(after.OwnerOf(e))); // recorded at DC2, but DC2's xTR holds no /32 for it

        var (registered, skipped) = await _lab.AdvanceUntilAsync(after.RestoreAsync(), ResolveTimeout / 5);

        Assert.Equal((5, 0), (registered, skipped.Count));
        Assert.All(eids, e => Assert.Equal(HostState.Registered, _lab.Xtrs[MobilityLab.Dc2].HostOf(e)?.State));
        Assert.All(eids, e => Assert.Equal(MobilityLab.Dc2, after.OwnerOf(e)));
        Assert.All(eids, e => Assert.Equal(HostRouteKind.Local, _lab.Routes[MobilityLab.Dc2].Get(e)!.Kind));
        Assert.Equal(($"{eids[2]}/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eids[2]));
    }

    [Fact]
    public async Task Moved_home_by_another_agent_the_old_site_drops_its_blackhole_and_its_stale_owner()
    {
        var eid = IPAddress.Parse("172.16.7.20");
        var dc2Agent = _lab.Coordinator();
        Assert.True((await dc2Agent.MoveAsync(new MoveIntent(eid, "app", MobilityLab.Dc1, MobilityLab.Dc2, "migration", "vcenter"))).Converged);
        Assert.Equal(MobilityLab.Dc2, dc2Agent.OwnerOf(eid));

        // DC1's own agent (it drives only DC1, with its own journal) brings the VM home: register, then withdraw the /32.
        var dc1Agent = Dc1Agent();
        Assert.True((await dc1Agent.MoveAsync(new MoveIntent(eid, "app", MobilityLab.Dc2, MobilityLab.Dc1, "migration", "vcenter"))).Converged);

        Assert.Null(_lab.Routes[MobilityLab.Dc2].Get(eid)); // DC2's blackhole /32 removed once the /32 was withdrawn
        Assert.Null(_lab.Xtrs[MobilityLab.Dc2].HostOf(eid)?.State);
        Assert.Null(dc2Agent.OwnerOf(eid)); // not "dc2" any more: a VM seen at DC2 again is a move, not noise
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eid));
    }

    [Fact]
    public async Task A_restarted_agent_does_not_take_back_an_eid_that_moved_on_while_it_was_down()
    {
        var stayed = IPAddress.Parse("172.16.7.30");
        var left = IPAddress.Parse("172.16.7.31");
        var before = _lab.Coordinator();
        foreach (var e in new[] { stayed, left }) Assert.True((await before.MoveAsync(new MoveIntent(e, "app", MobilityLab.Dc1, MobilityLab.Dc2, "migration", "vcenter"))).Converged);

        // DC2's agent is down; DC1's agent brings one VM home meanwhile (the /32 is withdrawn).
        _lab.StopXtr(MobilityLab.Dc2);
        var dc1Agent = Dc1Agent();
        Assert.True((await dc1Agent.MoveAsync(new MoveIntent(left, "app", MobilityLab.Dc2, MobilityLab.Dc1, "migration", "vcenter"))).Converged);
        RestartDc2();

        var (registered, skipped) = await _lab.AdvanceUntilAsync(_lab.Coordinator(_lab.OpenStore()).RestoreAsync(), ResolveTimeout / 5);

        Assert.Equal(1, registered);
        var (eid, reason) = Assert.Single(skipped);
        Assert.Equal(left, eid);
        Assert.Equal($"the mapping system maps it to 172.16.0.0/16 at {_lab.Rloc(MobilityLab.Dc1)}", reason);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(stayed));
        Assert.Null(_lab.HostRegistrationSite(left));
        Assert.Null(_lab.Xtrs[MobilityLab.Dc2].HostOf(left)?.State);
    }
}
