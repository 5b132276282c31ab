using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// DR failover in bulk against the real Map-Server and xTR engines on the simulated network, verified by Map-Requests, and
/// failback (<see cref="UdpMobilityTests"/> runs one on UDP).
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private SimulatedMobilityLab _lab = null!;

    public Task InitializeAsync()
    {
        _lab = SimulatedMobilityLab.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    /// <summary>Records every report on the caller's thread (Progress&lt;T&gt; would post them and lose the order).</summary>
    private sealed class Recorder : IProgress<FailoverProgress>
    {
        public ConcurrentQueue<FailoverProgress> Reports { get; } = new();

        public void Report(FailoverProgress value) => Reports.Enqueue(value);
    }

    private static IPAddress Eid(int i) => IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"172.16.{100 + i / 250}.{i % 250 + 1}"));

    [Fact]
    public async Task Two_thousand_eids_fail_over_to_dc2_verified_by_lookup_and_fail_back_home()
    {
        const int count = 2000;
        var coordinator = _lab.Coordinator();
        var eids = Enumerable.Range(0, count).Select(Eid).ToList();
        foreach (var eid in eids) coordinator.Adopt(eid, MobilityLab.Dc1);
        var progress = new Recorder();
        var registers = _lab.Server.Counters.RegistersAccepted;
        var notifies = _lab.Server.Counters.UnsolicitedNotifiesSent;

        var over = await coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2, progress: progress);

        // In bulk: dozens of /32s per Map-Register, and per Map-Notify to the old site (periodic registers run alongside).
        Assert.InRange(_lab.Server.Counters.RegistersAccepted - registers, 1, count / 20);
        Assert.InRange(_lab.Server.Counters.UnsolicitedNotifiesSent - notifies, 1, count / 20);
        Assert.True(_lab.Server.Counters.MapRequests >= count, "one verifying Map-Request per EID");
        var audit = coordinator.Store.QueryAudit(new AuditQuery(Eid: eids[77].ToString()));
        Assert.Equal(["intent", "move"], audit.Select(a => a.Kind));
        Assert.All(["Registered", "OldSiteAway", "GatewaysConverged", "RemoteItrsSolicited"], step => Assert.Contains(step + " ", audit[1].Detail, StringComparison.Ordinal));

        Assert.True(over.Converged, string.Join("; ", over.NotConverged.Take(5).Select(n => $"{n.Eid}: {n.Reason}")));
        Assert.Equal(count, over.Moves.Count);
        Assert.Equal(eids.ToHashSet(), over.Verified.ToHashSet());
        Assert.Equal(count, _lab.Server.ListRegistrations().Count(r => r.Eid.IsHost && r.Site == MobilityLab.Dc2));
        Assert.Equal(count, progress.Reports.Count);
        Assert.Equal(count, progress.Reports.Max(p => p.Converged));
        Assert.All(progress.Reports, p => Assert.Equal((count, 0), (p.Total, p.Failed)));
        Assert.Equal(count, coordinator.EidsAt(MobilityLab.Dc2).Count);
        Assert.Empty(coordinator.EidsAt(MobilityLab.Dc1));
        Assert.Equal(($"{eids[1234]}/32", _lab.Rloc(MobilityLab.Dc2)), await _lab.LookupFromBranchAsync(eids[1234]));
        Assert.Equal(count, coordinator.Store.QueryAudit(new AuditQuery(Site: MobilityLab.Dc2, Limit: 100_000)).Count(a => a is { Kind: "move", Outcome: "converged", Trigger: "dr-failover" }));

        var back = await coordinator.FailoverAsync(MobilityLab.Dc2, MobilityLab.Dc1);

        Assert.True(back.Converged, string.Join("; ", back.NotConverged.Take(5).Select(n => $"{n.Eid}: {n.Reason}")));
        Assert.Equal(count, back.Verified.Count);
        Assert.DoesNotContain(_lab.Server.ListRegistrations(), r => r.Eid.IsHost); // home: every /32 withdrawn
        Assert.Equal(("172.16.0.0/16", _lab.Rloc(MobilityLab.Dc1)), await _lab.LookupFromBranchAsync(eids[1234]));
        Assert.Equal(count, coordinator.EidsAt(MobilityLab.Dc1).Count);
    }

    [Fact]
    public async Task A_scoped_failover_moves_only_the_listed_vms_and_reports_what_could_not_move()
    {
        var coordinator = _lab.Coordinator();
        var replicas = new[] { IPAddress.Parse("172.16.90.1"), IPAddress.Parse("172.16.90.2"), IPAddress.Parse("172.17.90.3"), IPAddress.Parse("198.51.100.4") };

        var report = await coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2, scope: replicas);

        Assert.False(report.Converged);
        Assert.Equal(replicas[..2].ToHashSet(), report.Verified.ToHashSet());
        Assert.Equal(
            [(replicas[2], "range 'db' may not live at dc2"), (replicas[3], "outside every dynamic-EID range")],
            report.NotConverged.OrderBy(n => n.Eid.ToString(), StringComparer.Ordinal));
        Assert.Equal(2, _lab.Server.ListRegistrations().Count(r => r.Eid.IsHost));
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc3));
        Assert.StartsWith("site 'dc3' is not served by this agent", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eids_the_mapping_system_does_not_confirm_are_reported_not_converged()
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var eids = Enumerable.Range(0, 20).Select(i => IPAddress.Parse($"172.16.91.{i + 1}")).ToList();
        foreach (var eid in eids) coordinator.Adopt(eid, MobilityLab.Dc1);
        dc2.BreakRegister(eids[7]);

        var report = await coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2);

        var failed = Assert.Single(report.NotConverged);
        Assert.Equal((eids[7], "Registered: injected Register failure of 172.16.91.8"), (failed.Eid, failed.Reason));
        Assert.Equal(19, report.Verified.Count);
        Assert.DoesNotContain(failed.Eid, report.Verified);
        Assert.Equal(MobilityLab.Dc1, coordinator.OwnerOf(failed.Eid));
    }

    [Fact]
    public async Task Eids_whose_shared_register_fails_go_on_alone_with_retries_and_converge()
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var eids = Enumerable.Range(0, 30).Select(i => IPAddress.Parse($"172.16.92.{i + 1}")).ToList();
        foreach (var eid in eids) coordinator.Adopt(eid, MobilityLab.Dc1);
        dc2.FailNext(RouterCall.Register, 1); // the bulk register of all 30

        var report = await coordinator.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2);

        Assert.True(report.Converged, string.Join("; ", report.NotConverged.Take(3).Select(n => $"{n.Eid}: {n.Reason}")));
        Assert.Equal(eids.ToHashSet(), report.Verified.ToHashSet());
        Assert.Equal(1 + eids.Count, dc2.Calls(RouterCall.Register)); // the failed bulk call, then one register each
        Assert.All(eids, e => Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(e)));
        var audit = coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.92.5"));
        Assert.Equal(["intent", "bulk", "Registered", "OldSiteAway", "GatewaysConverged", "RemoteItrsSolicited", "move"], audit.Select(a => a.Kind));
        Assert.StartsWith("continues on its own after Journaled: Registered: injected", audit[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failover_cut_short_by_a_crash_is_finished_from_the_journal()
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        dc2.Hang(RouterCall.Resolve); // the process "dies" while verifying
        var store = new MobilityStore(_lab.Database);
        var crashed = _lab.Coordinator(store, wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var eids = Enumerable.Range(0, 40).Select(i => IPAddress.Parse($"172.16.93.{i + 1}")).ToList();
        foreach (var eid in eids) crashed.Adopt(eid, MobilityLab.Dc1);
        using var crash = new CancellationTokenSource();
        var failover = crashed.FailoverAsync(MobilityLab.Dc1, MobilityLab.Dc2, cancellationToken: crash.Token);
        await dc2.Hanging; // the failover reached the verification
        Assert.Equal(1, dc2.Calls(RouterCall.Resolve));
        await crash.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => failover);
        store.Dispose();

        var reopened = _lab.OpenStore();
        Assert.Equal(eids.Select(e => e.ToString()).Order(), reopened.Unfinished().Select(m => m.Eid).Order());
        var restarted = _lab.Coordinator(reopened);
        var outcomes = await restarted.ResumeAsync();

        Assert.Equal(eids.Count, outcomes.Count);
        Assert.All(outcomes, o => Assert.True(o.Converged, o.Error));
        Assert.Empty(reopened.Unfinished());
        Assert.All(eids, e => Assert.Equal(MobilityLab.Dc2, restarted.OwnerOf(e)));
        Assert.All(eids, e => Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(e)));
    }
}
