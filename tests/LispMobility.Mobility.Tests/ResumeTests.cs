using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// A crash in the middle of a saga, and a new coordinator over the same SQLite file finishing it from the journal; the
/// mapping system on the simulated network.
/// </summary>
public sealed class ResumeTests : IAsyncLifetime
{
    private SimulatedMobilityLab _lab = null!;

    public Task InitializeAsync()
    {
        _lab = SimulatedMobilityLab.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    [Fact]
    public async Task A_move_interrupted_after_registering_is_finished_by_ResumeAsync_from_the_recorded_step()
    {
        var eid = IPAddress.Parse("172.16.6.1");
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        dc2.Hang(RouterCall.Resolve); // the process "dies" while checking that the old site is away
        var store = new MobilityStore(_lab.Database);
        var crashed = _lab.Coordinator(store, wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        crashed.Adopt(eid, MobilityLab.Dc1);
        using var crash = new CancellationTokenSource();
        var move = crashed.MoveAsync(new MoveIntent(eid, "app-1", null, MobilityLab.Dc2, "migration", "vcenter"), crash.Token);
        await dc2.Hanging; // the saga reached the old-site step
        Assert.Equal(1, dc2.Calls(RouterCall.Resolve));
        await crash.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => move);
        store.Dispose();

        var reopened = _lab.OpenStore();
        var unfinished = Assert.Single(reopened.Unfinished());
        Assert.Equal(("172.16.6.1", MoveState.Running, MoveStep.Registered, "dc1", "dc2"), (unfinished.Eid, unfinished.State, unfinished.Step, unfinished.FromSite, unfinished.ToSite));
        var dc2AfterRestart = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var restarted = _lab.Coordinator(reopened, wrap: r => r.Site == MobilityLab.Dc2 ? dc2AfterRestart : r);

        var outcome = Assert.Single(await restarted.ResumeAsync());

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal(unfinished.Id, outcome.Id);
        Assert.Equal([MoveStep.OldSiteAway, MoveStep.GatewaysConverged, MoveStep.RemoteItrsSolicited], outcome.Steps.Select(s => s.Step));
        Assert.Equal(0, dc2AfterRestart.Calls(RouterCall.Register)); // the recorded step is not redone
        Assert.Equal(MoveState.Converged, reopened.Move(outcome.Id)!.State);
        Assert.Empty(reopened.Unfinished());
        Assert.Equal(MobilityLab.Dc2, restarted.OwnerOf(eid));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
        Assert.Equal(HostState.Registered, _lab.Xtrs[MobilityLab.Dc2].HostOf(eid)?.State);
        Assert.Equal(["intent", "Registered", "resume", "OldSiteAway", "GatewaysConverged", "RemoteItrsSolicited", "move"],
            reopened.QueryAudit(new AuditQuery(Eid: "172.16.6.1")).Select(a => a.Kind));

        // A third start has nothing left to do, and knows where the EID is from the journal alone.
        var third = _lab.Coordinator(_lab.OpenStore());
        Assert.Empty(await third.ResumeAsync());
        Assert.Equal(MobilityLab.Dc2, third.OwnerOf(eid));
    }

    [Fact]
    public async Task A_journaled_move_that_never_touched_the_network_is_replayed_from_the_start()
    {
        var eid = IPAddress.Parse("172.16.6.2");
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        dc2.Hang(RouterCall.Register);
        var store = new MobilityStore(_lab.Database);
        using var crash = new CancellationTokenSource();
        var move = _lab.Coordinator(store, wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r)
            .MoveAsync(new MoveIntent(eid, "app-2", null, MobilityLab.Dc2, "migration", "vcenter"), crash.Token);
        await dc2.Hanging; // the saga reached the register step
        Assert.Equal(1, dc2.Calls(RouterCall.Register));
        await crash.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => move);
        store.Dispose();
        Assert.Null(_lab.HostRegistrationSite(eid));

        var restarted = _lab.Coordinator(_lab.OpenStore());
        var outcome = Assert.Single(await restarted.ResumeAsync());

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal(MoveStep.Registered, outcome.Steps[0].Step);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
    }

    [Fact]
    public async Task An_unfinished_move_to_a_site_this_agent_no_longer_serves_is_closed_failed_with_the_reason()
    {
        using (var store = new MobilityStore(_lab.Database))
        {
            var now = DateTimeOffset.UtcNow;
            store.Begin(new MoveRecord(Guid.NewGuid(), "172.16.6.3", "app-3", "dc1", "dc3", "migration", "vcenter", MoveState.Running, MoveStep.Journaled, now, now, null));
        }

        var restarted = _lab.Coordinator(_lab.OpenStore());

        Assert.Empty(await restarted.ResumeAsync());
        var closed = Assert.Single(restarted.Store.QueryAudit(new AuditQuery(Eid: "172.16.6.3")));
        Assert.Equal(("resume", "failed", "site dc3 is not served by this agent"), (closed.Kind, closed.Outcome, closed.Detail));
        Assert.Empty(restarted.Store.Unfinished());
    }

    private async Task<MoveRecord> CrashAfterRegisteringAsync(IPAddress eid)
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        dc2.Hang(RouterCall.Resolve);
        using var store = new MobilityStore(_lab.Database);
        using var crash = new CancellationTokenSource();
        var move = _lab.Coordinator(store, wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r)
            .MoveAsync(new MoveIntent(eid, "app", MobilityLab.Dc1, MobilityLab.Dc2, "migration", "vcenter"), crash.Token);
        await dc2.Hanging; // the saga reached the old-site step
        Assert.Equal(1, dc2.Calls(RouterCall.Resolve));
        await crash.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => move);
        return Assert.Single(store.Unfinished(), m => m.Eid == eid.ToString());
    }

    [Fact]
    public async Task A_move_the_detector_started_after_the_restart_wins_over_the_older_unfinished_one()
    {
        var eid = IPAddress.Parse("172.16.6.4");
        var stale = await CrashAfterRegisteringAsync(eid);
        var restarted = _lab.Coordinator(_lab.OpenStore());

        var home = await restarted.MoveAsync(new MoveIntent(eid, "app", null, MobilityLab.Dc1, "migration", "vcenter"));
        var resumed = await restarted.ResumeAsync();

        Assert.True(home.Converged, home.Error);
        Assert.Empty(resumed);
        var closed = restarted.Store.Move(stale.Id)!;
        Assert.Equal((MoveState.Superseded, $"not resumed: superseded by move {home.Id} of the same EID"), (closed.State, closed.Error));
        Assert.Equal("superseded", restarted.Store.QueryAudit(new AuditQuery(Eid: eid.ToString())).Single(a => a.Kind == "resume").Outcome);
        Assert.Null(_lab.HostRegistrationSite(eid)); // still home: the stale move did not take it back to DC2
        Assert.Equal(MobilityLab.Dc1, restarted.OwnerOf(eid));
    }

    [Fact]
    public async Task A_move_of_an_eid_being_resumed_waits_for_the_resumed_move()
    {
        var eid = IPAddress.Parse("172.16.6.5");
        await CrashAfterRegisteringAsync(eid);
        var dc1 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc1]);
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        dc2.Hang(RouterCall.Resolve);
        var restarted = _lab.Coordinator(_lab.OpenStore(), wrap: r => r.Site == MobilityLab.Dc1 ? dc1 : dc2);
        using var stop = new CancellationTokenSource();
        var resume = restarted.ResumeAsync(stop.Token);
        await dc2.Hanging; // the resumed saga is at the old-site step
        Assert.Equal(1, dc2.Calls(RouterCall.Resolve));

        var home = restarted.MoveAsync(new MoveIntent(eid, "app", null, MobilityLab.Dc1, "migration", "vcenter"));
        await Task.Delay(300);
        Assert.Equal(0, dc1.Calls(RouterCall.Register)); // held behind the resumed move of the same EID
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => resume);

        Assert.True((await home).Converged);
        Assert.Equal(1, dc1.Calls(RouterCall.Register));
        Assert.Null(_lab.HostRegistrationSite(eid));
    }
}
