using Microsoft.Data.Sqlite;
using LispMobility.Mobility.Persistence;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// The journal's group commit, observed through a second SQLite connection the way a restarted agent would read the file:
/// a journaled intent is on disk when Begin returns, steps and audit rows follow within moments, nothing is lost.
/// </summary>
public sealed class JournalCommitTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("lm-journal-").FullName;
    private string Database => Path.Combine(_directory, "journal.db");

    private long CountFromOutside(string sql)
    {
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Database, Pooling = false }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }

    private static MoveRecord Move(int i) =>
        new(Guid.NewGuid(), $"10.1.{i / 250}.{i % 250 + 1}", "vm", "dc1", "dc2", "dr-failover", "operator", MoveState.Running, MoveStep.Journaled, T0, T0, null);

    [Fact]
    public async Task Writes_from_many_sagas_at_once_all_land_and_a_journaled_intent_is_committed_when_Begin_returns()
    {
        using var store = new MobilityStore(Database);
        var seenOnDisk = 0L;
        await Parallel.ForEachAsync(Enumerable.Range(0, 2000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var move = Move(i);
            store.Begin(move);
            if (i == 1000) seenOnDisk = CountFromOutside($"SELECT count(*) FROM moves WHERE id='{move.Id}'");
            store.Audit(new AuditEntry(0, T0, move.Id, move.Eid, "vm", "dc1", "dc2", "intent", "dr-failover", "operator", "journaled", null, null));
            await Task.Yield();
            store.Update(move.Id, MoveState.Running, MoveStep.Registered, T0);
            store.Update(move.Id, MoveState.Converged, MoveStep.Done, T0);
        });

        Assert.Equal(1, seenOnDisk);
        Assert.Equal(2000, CountFromOutside($"SELECT count(*) FROM moves WHERE state={(int)MoveState.Converged} AND step={(int)MoveStep.Done}"));
        await MobilityLab.Eventually(() => CountFromOutside("SELECT count(*) FROM audit") == 2000, "every audit row committed without a read or a close");
        Assert.Null(store.LastWriteError);
        Assert.Equal(2000, store.Owners().Count);
    }

    [Fact]
    public void A_write_that_fails_fails_only_its_caller_and_rows_queued_with_it_are_kept()
    {
        using var store = new MobilityStore(Database);
        var move = Move(1);
        store.Begin(move);
        store.Audit(new AuditEntry(0, T0, move.Id, move.Eid, "vm", "dc1", "dc2", "intent", null, null, "journaled", null, null));

        var duplicate = Assert.Throws<SqliteException>(() => store.Begin(move));

        Assert.Contains("UNIQUE", duplicate.Message, StringComparison.Ordinal);
        Assert.Equal(1, CountFromOutside("SELECT count(*) FROM audit"));
        Assert.Single(store.QueryAudit(new AuditQuery(Eid: move.Eid)));
    }

    [Fact]
    public void The_newest_rows_come_first_when_asked_and_the_limit_keeps_the_latest()
    {
        using var store = new MobilityStore(Database);
        for (var i = 0; i < 5; i++) store.Audit(new AuditEntry(0, T0.AddMinutes(i), null, "10.1.0.9", "vm", "dc1", "dc2", "move", null, null, $"row {i}", null, null));

        Assert.Equal(["row 0", "row 1"], store.QueryAudit(new AuditQuery(Limit: 2)).Select(a => a.Outcome));
        Assert.Equal(["row 4", "row 3"], store.QueryAudit(new AuditQuery(Limit: 2, NewestFirst: true)).Select(a => a.Outcome));
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_in_one_line_naming_it_and_what_to_do()
    {
        File.WriteAllText(Database, "this is not a database, just text that someone put here");

        var e = Assert.Throws<MobilityStoreException>(() => new MobilityStore(Database));

        Assert.Equal($"the move journal {Database} is not a SQLite database or is corrupt (SQLite error 26: file is not a database): move it aside and start " +
            "again (the agent then starts with an empty journal and history; `sqlite3 FILE .recover` may save the rows)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal("this is not a database, just text that someone put here", File.ReadAllText(Database)); // nothing overwritten
    }

    [Fact]
    public void Closing_the_store_commits_what_is_still_queued()
    {
        var store = new MobilityStore(Database);
        var move = Move(2);
        store.Begin(move);
        for (var i = 0; i < 50; i++) store.Audit(new AuditEntry(0, T0, move.Id, move.Eid, "vm", "dc1", "dc2", "step", null, null, "ok", null, null));
        store.Update(move.Id, MoveState.Running, MoveStep.OldSiteAway, T0);

        store.Dispose();

        Assert.Equal(50, CountFromOutside("SELECT count(*) FROM audit"));
        Assert.Equal((long)MoveStep.OldSiteAway, CountFromOutside("SELECT step FROM moves"));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
