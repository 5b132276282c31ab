using LispMobility.Mobility.Persistence;

namespace LispMobility.Mobility.Tests;

/// <summary>The audit history and journal in a real SQLite file: queries by EID, VM, site and time, and retention.</summary>
public sealed class AuditHistoryTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("lm-audit-").FullName;
    private readonly MobilityStore _store;

    public AuditHistoryTests()
    {
        _store = new MobilityStore(Path.Combine(_directory, "audit.db"));
        Row(T0, "10.0.0.1", "web-1", "dc1", "dc2");
        Row(T0.AddHours(1), "10.0.0.2", "web-2", "dc1", "dc2");
        Row(T0.AddDays(1), "10.0.0.1", "web-1", "dc2", "dc3");
        Row(T0.AddDays(2), "10.0.0.3", "db-1", "dc3", "dc1");
    }

    private void Row(DateTimeOffset time, string eid, string vm, string from, string to) =>
        _store.Audit(new AuditEntry(0, time, Guid.NewGuid(), eid, vm, from, to, "move", "migration", "vcenter", "converged", $"{from} -> {to}", 12.5));

    [Fact]
    public void Queries_by_eid_vm_site_and_time_return_the_matching_rows_oldest_first()
    {
        Assert.Equal(["dc1 -> dc2", "dc2 -> dc3"], _store.QueryAudit(new AuditQuery(Eid: "10.0.0.1")).Select(a => a.Detail));
        Assert.Equal(["dc1 -> dc2"], _store.QueryAudit(new AuditQuery(Vm: "web-2")).Select(a => a.Detail));
        Assert.Equal(["10.0.0.1", "10.0.0.3"], _store.QueryAudit(new AuditQuery(Site: "dc3")).Select(a => a.Eid)); // as source or destination
        Assert.Equal(["10.0.0.1", "10.0.0.3"], _store.QueryAudit(new AuditQuery(Since: T0.AddHours(2))).Select(a => a.Eid));
        Assert.Equal(["10.0.0.1"], _store.QueryAudit(new AuditQuery(Eid: "10.0.0.1", Site: "dc1")).Select(a => a.Eid));
        Assert.Equal(2, _store.QueryAudit(new AuditQuery(Limit: 2)).Count);
        var row = _store.QueryAudit(new AuditQuery(Vm: "db-1")).Single();
        Assert.Equal((T0.AddDays(2), "move", "migration", "vcenter", "converged", (double?)12.5), (row.Time, row.Kind, row.Trigger, row.Source, row.Outcome, row.DurationMs));
        Assert.Empty(_store.QueryAudit(new AuditQuery(Eid: "10.0.0.1' OR '1'='1")));
    }

    [Fact]
    public void Prune_deletes_audit_rows_and_finished_moves_older_than_the_cutoff_and_keeps_unfinished_moves()
    {
        var done = new MoveRecord(Guid.NewGuid(), "10.0.0.1", "web-1", "dc1", "dc2", "migration", "vcenter", MoveState.Running, MoveStep.Journaled, T0, T0, null);
        var open = done with { Id = Guid.NewGuid(), Eid = "10.0.0.9" };
        _store.Begin(done);
        _store.Begin(open);
        _store.Update(done.Id, MoveState.Converged, MoveStep.Done, T0.AddMinutes(1));

        var deleted = _store.Prune(T0.AddDays(1));

        Assert.Equal(3, deleted); // two audit rows and the finished move
        Assert.Equal([T0.AddDays(1), T0.AddDays(2)], _store.QueryAudit(new AuditQuery()).Select(a => a.Time));
        Assert.Null(_store.Move(done.Id));
        Assert.Equal(open.Id, Assert.Single(_store.Unfinished()).Id);
        Assert.Equal(0, _store.Prune(T0.AddDays(1)));
    }

    [Fact]
    public void The_owner_of_an_eid_is_the_destination_of_its_last_converged_move()
    {
        var first = new MoveRecord(Guid.NewGuid(), "10.0.0.1", "web-1", "dc1", "dc2", "migration", "vcenter", MoveState.Running, MoveStep.Journaled, T0, T0, null);
        var second = first with { Id = Guid.NewGuid(), FromSite = "dc2", ToSite = "dc3" };
        var failed = first with { Id = Guid.NewGuid(), FromSite = "dc3", ToSite = "dc1" };
        foreach (var m in new[] { first, second, failed }) _store.Begin(m);
        _store.Update(first.Id, MoveState.Converged, MoveStep.Done, T0.AddMinutes(1));
        _store.Update(second.Id, MoveState.Converged, MoveStep.Done, T0.AddMinutes(2));
        _store.Update(failed.Id, MoveState.Failed, MoveStep.Registered, T0.AddMinutes(3), "Registered: no Map-Notify");

        Assert.Equal(new EidOwner("dc3", HeldAway: false), _store.Owners()["10.0.0.1"]);
        Assert.Equal((MoveState.Failed, MoveStep.Registered, "Registered: no Map-Notify"), (_store.Move(failed.Id)!.State, _store.Move(failed.Id)!.Step, _store.Move(failed.Id)!.Error));
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
