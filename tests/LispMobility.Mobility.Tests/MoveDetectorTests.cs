using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Mobility.Persistence;
using LispMobility.TestSupport;
using LispMobility.Watchers;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// The detector's decisions, one row per situation, with the moves it starts running for real against the loopback lab
/// (DC1 and DC2 local, DC3 allowed for "vm" but served by another agent). Time for the hold-down is a FakeTimeProvider.
/// </summary>
public sealed class MoveDetectorTests : IAsyncLifetime
{
    private static readonly TimeSpan HoldDown = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private MobilityLab _lab = null!;
    private MobilityCoordinator _coordinator = null!;
    private MoveDetector _detector = null!;
    private long _timestamp;

    public async Task InitializeAsync()
    {
        _lab = await MobilityLab.StartAsync();
        _coordinator = _lab.Coordinator();
        _detector = new MoveDetector(_coordinator, HoldDown, _clock);
    }

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private WorkloadObserved Fact(string? site, string ip = "172.16.7.1", WorkloadChange change = WorkloadChange.Migrated, string source = WorkloadSources.VCenter, string? previousSite = null) =>
        new("vm-42", "app-42", [PhysicalAddress.Parse("00-50-56-00-00-42")], [IPAddress.Parse(ip)], site is null ? "esx-unknown" : "esx-" + site, site, change, source,
            ++_timestamp, PreviousSite: previousSite);

    public static TheoryData<string, DetectionKind, string?> Rows => new()
    {
        // row name                          decision of the last fact          audit outcome of a refusal (null: nothing audited)
        { "move to another site", DetectionKind.Move, null },
        { "reported at the site it is at", DetectionKind.AlreadyThere, null },
        { "same move from a second watcher", DetectionKind.AlreadyThere, null },
        { "back within the hold-down", DetectionKind.HeldDown, null },
        { "outside every range", DetectionKind.OutsideRanges, "OutsideRanges" },
        { "range not allowed at the site", DetectionKind.SiteNotAllowed, "SiteNotAllowed" },
        { "host in no site", DetectionKind.UnknownSite, "UnknownSite" },
        { "powered off", DetectionKind.NotAPlacement, null },
        { "gone", DetectionKind.NotAPlacement, null },
        { "site served by another agent", DetectionKind.NotLocal, null },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Decides(string row, DetectionKind expected, string? refusal)
    {
        var (before, last) = row switch
        {
            "move to another site" => (Array.Empty<WorkloadObserved>(), Fact(MobilityLab.Dc2, previousSite: MobilityLab.Dc1)),
            "reported at the site it is at" => ([], Fact(MobilityLab.Dc1, change: WorkloadChange.Discovered)),
            "same move from a second watcher" => ([Fact(MobilityLab.Dc2)], Fact(MobilityLab.Dc2, change: WorkloadChange.Discovered, source: WorkloadSources.DataPlane)),
            "back within the hold-down" => ([Fact(MobilityLab.Dc2)], Fact(MobilityLab.Dc1)),
            "outside every range" => ([], Fact(MobilityLab.Dc2, ip: "192.0.2.7")),
            "range not allowed at the site" => ([], Fact(MobilityLab.Dc2, ip: "172.17.0.7", previousSite: MobilityLab.Dc1)),
            "host in no site" => ([], Fact(null)),
            "powered off" => ([], Fact(MobilityLab.Dc2, change: WorkloadChange.PoweredOff)),
            "gone" => ([], Fact(MobilityLab.Dc2, change: WorkloadChange.Gone)),
            "site served by another agent" => ([], Fact(MobilityLab.Dc3)),
            _ => throw new ArgumentOutOfRangeException(nameof(row), row, null),
        };
        var earlier = before.SelectMany(_detector.Observe).ToList();

        var decision = Assert.Single(_detector.Observe(last));

        Assert.Equal(expected, decision.Kind);
        var moves = earlier.Append(decision).Where(d => d.Move is not null).Select(d => d.Move!).Distinct().ToList();
        foreach (var m in moves) Assert.True((await m.WaitAsync(TimeSpan.FromSeconds(15))).Converged);
        var audit = _coordinator.Store.QueryAudit(new AuditQuery());
        if (refusal is null)
        {
            Assert.DoesNotContain(audit, a => a.Kind == "refused");
        }
        else
        {
            var row_ = Assert.Single(audit, a => a.Kind == "refused");
            Assert.Equal((refusal, "app-42", last.Site, last.PreviousSite, "Migrated", WorkloadSources.VCenter), (row_.Outcome, row_.Vm, row_.ToSite, row_.FromSite, row_.Trigger, row_.Source));
            Assert.Equal(decision.Detail, row_.Detail);
            Assert.DoesNotContain(audit, a => a.Kind != "refused"); // nothing else happened for it
        }

        // Only the rows that decide a move change where the EID lives.
        Assert.Equal(row is "move to another site" or "same move from a second watcher" or "back within the hold-down" ? 1 : 0, moves.Count);
    }

    [Fact]
    public async Task A_report_held_down_is_re_examined_when_the_hold_down_ends_and_then_moves_the_eid_back()
    {
        var eid = IPAddress.Parse("172.16.7.9");
        var away = Assert.Single(_detector.Observe(Fact(MobilityLab.Dc2, ip: "172.16.7.9")));
        Assert.True((await away.Move!).Converged);

        var held = Assert.Single(_detector.Observe(Fact(MobilityLab.Dc1, ip: "172.16.7.9")));
        Assert.Equal(DetectionKind.HeldDown, held.Kind);
        Assert.Equal(MobilityLab.Dc2, _coordinator.OwnerOf(eid));

        _clock.Advance(HoldDown);

        await MobilityLab.Eventually(() => _coordinator.OwnerOf(eid) == MobilityLab.Dc1, "the held report moved the EID home after the hold-down");
        Assert.Null(_lab.HostRegistrationSite(eid));
        var moves = _coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.7.9")).Where(a => a.Kind == "move").ToList();
        Assert.Equal([("dc1", "dc2"), ("dc2", "dc1")], moves.Select(m => (m.FromSite!, m.ToSite!)));
    }

    [Fact]
    public async Task A_move_that_failed_is_attempted_again_when_the_workload_is_reported_there_again()
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r);
        var detector = new MoveDetector(coordinator, HoldDown, _clock);
        dc2.FailNext(RouterCall.Register, 3);
        var first = Assert.Single(detector.Observe(Fact(MobilityLab.Dc2, ip: "172.16.7.20")));
        Assert.False((await first.Move!).Converged);

        var again = Assert.Single(detector.Observe(Fact(MobilityLab.Dc2, ip: "172.16.7.20", source: WorkloadSources.DataPlane)));

        Assert.Equal(DetectionKind.Move, again.Kind);
        Assert.True((await again.Move!).Converged);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(IPAddress.Parse("172.16.7.20")));
    }

    [Fact]
    public async Task A_hyper_v_replica_failover_fact_moves_every_address_of_the_vm_and_skips_link_local_ones()
    {
        var fact = new WorkloadObserved("vm-77", "erp-77", [PhysicalAddress.Parse("00-15-5D-00-00-77")],
            [IPAddress.Parse("172.16.8.1"), IPAddress.Parse("fe80::215:5dff:fe00:77"), IPAddress.Parse("172.16.8.2"), IPAddress.Parse("203.0.113.9")],
            "hv-dc2-01", MobilityLab.Dc2, WorkloadChange.Failover, WorkloadSources.HyperV, ++_timestamp, "hv-dc1-01", MobilityLab.Dc1);

        var decisions = _detector.Observe(fact);

        Assert.Equal([DetectionKind.Move, DetectionKind.Move, DetectionKind.OutsideRanges], decisions.Select(d => d.Kind));
        foreach (var d in decisions.Where(d => d.Move is not null)) Assert.True((await d.Move!).Converged);
        var moves = _coordinator.Store.QueryAudit(new AuditQuery(Vm: "erp-77")).Where(a => a.Kind == "move").ToList();
        Assert.Equal(2, moves.Count);
        Assert.All(moves, m => Assert.Equal(("failover", WorkloadSources.HyperV, "dc1", "dc2", "converged"), (m.Trigger!, m.Source!, m.FromSite!, m.ToSite!, m.Outcome)));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(IPAddress.Parse("172.16.8.2")));
    }

    [Fact]
    public async Task Only_the_latest_report_is_re_examined_after_the_hold_down()
    {
        var eid = IPAddress.Parse("172.16.7.30");
        Assert.True((await _detector.Observe(Fact(MobilityLab.Dc2, ip: "172.16.7.30")).Single().Move!).Converged);
        Assert.Equal(DetectionKind.HeldDown, _detector.Observe(Fact(MobilityLab.Dc1, ip: "172.16.7.30")).Single().Kind);
        Assert.Equal(DetectionKind.AlreadyThere, _detector.Observe(Fact(MobilityLab.Dc2, ip: "172.16.7.30", source: WorkloadSources.DataPlane)).Single().Kind);

        _clock.Advance(HoldDown);
        await Task.Delay(500); // time for a wrongly re-examined report to start a move

        Assert.Equal(MobilityLab.Dc2, _coordinator.OwnerOf(eid));
        Assert.Single(_coordinator.Store.QueryAudit(new AuditQuery(Eid: "172.16.7.30")), a => a.Kind == "intent");
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
    }
}
