using System.Net;
using LispMobility.Lisp.Messages;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// Move sagas against the real Map-Server and xTR engines on the simulated network, with faults injected in front of the
/// xTRs (<see cref="UdpMobilityTests"/> runs one on UDP).
/// </summary>
public sealed class MoveSagaTests : IAsyncLifetime
{
    private SimulatedMobilityLab _lab = null!;

    public Task InitializeAsync()
    {
        _lab = SimulatedMobilityLab.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private static MoveIntent Intent(string eid, string to, string? from = null) => new(IPAddress.Parse(eid), "vm-" + eid, from, to, "migration", "test");

    [Fact]
    public async Task An_intent_decided_before_a_move_of_its_eid_started_is_journaled_as_superseded_and_not_run_after_that_move()
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var eid = IPAddress.Parse("172.16.1.30");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        var decided = coordinator.MovesStarted;
        var registering = new TaskCompletionSource();
        dc2.BeforeRegister = (_, ct) => registering.Task.WaitAsync(ct);
        var newer = coordinator.MoveAsync(Intent("172.16.1.30", MobilityLab.Dc2));
        await MobilityLab.Eventually(() => dc2.Calls(RouterCall.Register) == 1, "the newer move is registering");

        // Queued behind the newer move, on views read before it started (a reconciler pass that waited for the Map-Resolver).
        var stale = coordinator.MoveAsync(new MoveIntent(eid, "vm-172.16.1.30", null, MobilityLab.Dc1, Reconciler.Trigger, "reconciler", decided));
        registering.SetResult();

        Assert.True((await newer).Converged, (await newer).Error);
        var outcome = await stale;
        Assert.Equal(MoveState.Superseded, outcome.State);
        Assert.Empty(outcome.Steps);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
        Assert.Equal(MobilityLab.Dc2, coordinator.OwnerOf(eid));
        var journal = coordinator.Store.Move(outcome.Id)!;
        Assert.Equal((MoveState.Superseded, Reconciler.Trigger), (journal.State, journal.Trigger));
        Assert.StartsWith("not run: ", journal.Error, StringComparison.Ordinal);
        Assert.Contains(coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.1.30")), a => a.MoveId == outcome.Id && (a.Kind, a.Outcome) == ("intent", "superseded"));
        Assert.False(coordinator.MovedSince(eid, coordinator.MovesStarted));
    }

    [Fact]
    public async Task A_move_away_from_home_ends_only_once_the_home_xtr_applied_the_news_that_it_is_away()
    {
        // The home xTR serves the EID through its aggregate and has no state for it until the Map-Server's news: lost once
        // here, so that it comes only with the Map-Server's retransmission, after the saga's Map-Resolver check.
        var coordinator = _lab.Coordinator();
        var eid = IPAddress.Parse("172.16.1.40");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        var dc1 = IPAddress.Parse(_lab.Rloc(MobilityLab.Dc1));
        var lost = 0;
        _lab.Network.Drop = (type, _, to, _) => type == LispMessageType.MapNotify && to.Address.Equals(dc1) && Interlocked.Increment(ref lost) == 1;

        var outcome = await _lab.AdvanceUntilAsync(coordinator.MoveAsync(Intent("172.16.1.40", MobilityLab.Dc2)), TimeSpan.FromSeconds(1));

        Assert.True(outcome.Converged, outcome.Error);
        Assert.True(lost >= 2, "the news was retransmitted");
        // Ended before the news had arrived, the move left the home xTR to apply it later, in the middle of the next move of
        // the EID (back home), whose registration it undid.
        Assert.Equal(HostState.Away, _lab.Xtrs[MobilityLab.Dc1].HostOf(eid)?.State);
        var home = await coordinator.MoveAsync(Intent("172.16.1.40", MobilityLab.Dc1));
        Assert.True(home.Converged, home.Error);
        Assert.Null(_lab.HostRegistrationSite(eid));
    }

    [Fact]
    public async Task A_move_registers_the_host_at_the_new_site_the_old_site_goes_away_and_the_branch_follows()
    {
        var coordinator = _lab.Coordinator();
        var eid = IPAddress.Parse("172.16.1.10");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eid));

        var outcome = await coordinator.MoveAsync(Intent("172.16.1.10", MobilityLab.Dc2));

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal([MoveStep.Registered, MoveStep.OldSiteAway, MoveStep.GatewaysConverged, MoveStep.RemoteItrsSolicited], outcome.Steps.Select(s => s.Step));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
        Assert.Equal(("172.16.1.10/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eid));
        Assert.Equal(HostState.Registered, _lab.Xtrs[MobilityLab.Dc2].HostOf(eid)?.State);
        Assert.Equal(MobilityLab.Dc2, coordinator.OwnerOf(eid));
        var journal = coordinator.Store.Move(outcome.Id)!;
        Assert.Equal((MoveState.Converged, MoveStep.Done, (string?)null, "dc1"), (journal.State, journal.Step, journal.Error, journal.FromSite));
        var audit = coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.1.10"));
        Assert.Equal(["intent", "Registered", "OldSiteAway", "GatewaysConverged", "RemoteItrsSolicited", "move"], audit.Select(a => a.Kind));
        Assert.All(audit, a => Assert.Equal((outcome.Id, "vm-172.16.1.10", "dc1", "dc2", "migration", "test"), (a.MoveId!.Value, a.Vm!, a.FromSite!, a.ToSite!, a.Trigger!, a.Source!)));
        Assert.Equal("converged", audit[^1].Outcome);
    }

    [Fact]
    public async Task Moving_home_withdraws_the_32_and_the_home_aggregate_answers_again()
    {
        var coordinator = _lab.Coordinator();
        var eid = IPAddress.Parse("172.16.1.20");
        Assert.True((await coordinator.MoveAsync(Intent("172.16.1.20", MobilityLab.Dc2))).Converged);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));

        var home = await coordinator.MoveAsync(Intent("172.16.1.20", MobilityLab.Dc1));

        Assert.True(home.Converged, home.Error);
        Assert.Null(_lab.HostRegistrationSite(eid));
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eid));
        Assert.Equal(HostRouteKind.Local, _lab.Routes[MobilityLab.Dc1].Get(eid)?.Kind); // the host stays reachable at home
        // DC2 held it away until the /32 was withdrawn; told it is gone, it keeps no blackhole behind.
        Assert.Null(_lab.Xtrs[MobilityLab.Dc2].HostOf(eid)?.State);
        Assert.Null(_lab.Routes[MobilityLab.Dc2].Get(eid));
        Assert.Contains("/32 withdrawn", home.Steps.Single(s => s.Step == MoveStep.OldSiteAway).Detail, StringComparison.Ordinal);
        Assert.Equal(MobilityLab.Dc1, coordinator.OwnerOf(eid));
    }

    [Theory]
    [InlineData(RouterCall.Register, MoveStep.Registered)]
    [InlineData(RouterCall.Resolve, MoveStep.OldSiteAway)]
    [InlineData(RouterCall.Solicit, MoveStep.RemoteItrsSolicited)]
    public async Task A_step_that_fails_twice_is_retried_and_the_move_converges(RouterCall call, MoveStep step)
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        dc2.FailNext(call, 2);

        var outcome = await coordinator.MoveAsync(Intent("172.16.2.1", MobilityLab.Dc2));

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal(3, dc2.Calls(call));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(IPAddress.Parse("172.16.2.1")));
        Assert.Single(coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.2.1")), a => a.Kind == step.ToString() && a.Outcome == "ok");
    }

    [Theory]
    [InlineData(RouterCall.Register, MoveStep.Registered, false)]
    [InlineData(RouterCall.Resolve, MoveStep.OldSiteAway, true)]
    [InlineData(RouterCall.Solicit, MoveStep.RemoteItrsSolicited, true)]
    public async Task A_step_that_keeps_failing_ends_the_move_failed_with_the_reason_in_journal_and_audit(RouterCall call, MoveStep step, bool registered)
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var eid = IPAddress.Parse("172.16.2.2");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        dc2.FailNext(call, 100);

        var outcome = await coordinator.MoveAsync(Intent("172.16.2.2", MobilityLab.Dc2));

        Assert.False(outcome.Converged);
        // StepAttempts, and the solicitation right after the registration (best effort) before them.
        var calls = call == RouterCall.Solicit ? 4 : 3;
        Assert.Equal(calls, dc2.Calls(call));
        var reason = $"{step}: injected {call} failure (call {calls})";
        Assert.Equal(reason, outcome.Error);
        var journal = coordinator.Store.Move(outcome.Id)!;
        Assert.Equal((MoveState.Failed, step, reason), (journal.State, journal.Step, journal.Error));
        Assert.Empty(coordinator.Store.Unfinished());
        var last = coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.2.2"))[^1];
        Assert.Equal(("move", "failed", reason), (last.Kind, last.Outcome, last.Detail));
        // A failed move records no new owner; but once DC2's registration went through, the Map-Server made DC1 away,
        // so DC1 is no longer where the EID is and the owner is not known here (the next report of it moves it).
        Assert.Equal(registered ? null : MobilityLab.Dc1, coordinator.OwnerOf(eid));
        Assert.Equal(registered ? MobilityLab.Dc2 : null, _lab.HostRegistrationSite(eid));
    }

    [Fact]
    public async Task A_withdrawal_that_fails_on_the_way_home_is_retried_and_one_that_keeps_failing_leaves_a_failed_move()
    {
        var dc1 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc1]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc1 ? dc1 : r);
        Assert.True((await coordinator.MoveAsync(Intent("172.16.2.3", MobilityLab.Dc2))).Converged);
        Assert.True((await coordinator.MoveAsync(Intent("172.16.2.4", MobilityLab.Dc2))).Converged);

        dc1.FailNext(RouterCall.Withdraw, 2);
        var retried = await coordinator.MoveAsync(Intent("172.16.2.3", MobilityLab.Dc1));
        dc1.FailNext(RouterCall.Withdraw, 100);
        var failed = await coordinator.MoveAsync(Intent("172.16.2.4", MobilityLab.Dc1));

        Assert.True(retried.Converged, retried.Error);
        Assert.Null(_lab.HostRegistrationSite(IPAddress.Parse("172.16.2.3")));
        Assert.Equal("OldSiteAway: injected Withdraw failure (call 6)", failed.Error);
        Assert.Equal(MoveState.Failed, coordinator.Store.Move(failed.Id)!.State);
        Assert.Equal(MobilityLab.Dc1, _lab.HostRegistrationSite(IPAddress.Parse("172.16.2.4"))); // registered home, never withdrawn
    }

    [Fact]
    public async Task Moves_of_one_eid_run_one_at_a_time_and_moves_of_different_eids_in_parallel()
    {
        var inFlight = new Dictionary<string, int>();
        var maxPerEid = 0;
        var maxTotal = 0;
        var total = 0;
        var twoAtOnce = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new object();
        async Task Probe(IPAddress eid, CancellationToken ct)
        {
            lock (gate)
            {
                inFlight[eid.ToString()] = inFlight.GetValueOrDefault(eid.ToString()) + 1;
                maxPerEid = Math.Max(maxPerEid, inFlight[eid.ToString()]);
                maxTotal = Math.Max(maxTotal, ++total);
                if (total >= 2) twoAtOnce.TrySetResult();
            }

            // Hold each register until two are in flight at once (or give up after 2 s), so overlap is seen, not raced.
            await Task.WhenAny(twoAtOnce.Task, Task.Delay(2000, ct));
            await Task.Delay(20, ct);
            lock (gate)
            {
                inFlight[eid.ToString()]--;
                total--;
            }
        }

        var coordinator = _lab.Coordinator(wrap: r => new FaultyTunnelRouter(r) { BeforeRegister = Probe });
        var sameEid = new[] { MobilityLab.Dc2, MobilityLab.Dc1, MobilityLab.Dc2, MobilityLab.Dc1 }.Select(to => coordinator.MoveAsync(Intent("172.16.3.1", to))).ToList();
        var same = await Task.WhenAll(sameEid);

        Assert.All(same, o => Assert.True(o.Converged, o.Error));
        Assert.Equal(1, maxPerEid);
        Assert.Equal(1, maxTotal);
        // In the order they ran, each move starts where the previous one left the EID.
        var intents = coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.3.1")).Where(a => a.Kind == "intent").Select(a => a.MoveId).ToList();
        var ran = same.OrderBy(o => intents.IndexOf(o.Id)).ToList();
        Assert.Equal([MobilityLab.Dc1, .. ran.SkipLast(1).Select(o => o.ToSite)], ran.Select(o => o.FromSite));
        Assert.Equal(ran[^1].ToSite == MobilityLab.Dc1 ? null : MobilityLab.Dc2, _lab.HostRegistrationSite(IPAddress.Parse("172.16.3.1")));

        var different = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => coordinator.MoveAsync(Intent($"172.16.3.{10 + i}", MobilityLab.Dc2))));

        Assert.All(different, o => Assert.True(o.Converged, o.Error));
        Assert.True(maxTotal >= 2, $"moves of different EIDs never overlapped (max {maxTotal})");
        Assert.Equal(1, maxPerEid);
    }

    [Fact]
    public async Task A_move_outside_every_range_or_to_a_site_the_range_may_not_use_is_refused_before_anything_is_journaled()
    {
        var coordinator = _lab.Coordinator();

        var outside = await Assert.ThrowsAsync<ArgumentException>(() => coordinator.MoveAsync(Intent("192.0.2.1", MobilityLab.Dc2)));
        var notAllowed = await Assert.ThrowsAsync<ArgumentException>(() => coordinator.MoveAsync(Intent("172.17.0.5", MobilityLab.Dc2)));

        Assert.StartsWith("192.0.2.1 is in no dynamic-EID range", outside.Message, StringComparison.Ordinal);
        Assert.StartsWith("range 'db' may not live at site 'dc2'", notAllowed.Message, StringComparison.Ordinal);
        Assert.Empty(coordinator.Store.QueryAudit(new AuditQuery()));
    }

    [Fact]
    public async Task A_move_to_a_site_without_a_local_xtr_fails_with_the_reason()
    {
        var coordinator = _lab.Coordinator();

        var outcome = await coordinator.MoveAsync(Intent("172.16.4.1", MobilityLab.Dc3));

        Assert.False(outcome.Converged);
        Assert.Equal("site dc3 is not served by this agent (no local xTR)", outcome.Error);
        Assert.Equal(MoveState.Failed, coordinator.Store.Move(outcome.Id)!.State);
    }
}
