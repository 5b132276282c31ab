using System.Net;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using Microsoft.Data.Sqlite;

namespace LispMobility.Mobility.Tests;

/// <summary>A journal an older agent wrote opens after an upgrade, brought up to date in place, its rows keeping their meaning.</summary>
public sealed class JournalSchemaTests : IDisposable
{
    private const string HeldAwayEid = "172.16.4.10", MovedEid = "172.16.4.11";
    private readonly string _directory = Directory.CreateTempSubdirectory("lm-schema-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_journal_from_before_the_held_away_flag_still_names_the_eids_its_site_holds_away_and_those_it_moved()
    {
        var path = Path.Combine(_directory, "v0.db");
        Sql(path, """
            CREATE TABLE moves(id TEXT PRIMARY KEY, eid TEXT NOT NULL, vm TEXT NOT NULL, from_site TEXT, to_site TEXT NOT NULL,
              trigger TEXT NOT NULL, source TEXT NOT NULL, state INTEGER NOT NULL, step INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, error TEXT);
            INSERT INTO moves VALUES('5c1a0a4e-0000-4000-8000-000000000001','172.16.4.10','172.16.4.10','dc1','rloc 192.0.2.7','reconciled','reconciler',1,5,
              '2026-12-01T00:00:00.0000000Z','2026-12-01T00:00:00.0000000Z',NULL);
            INSERT INTO moves VALUES('5c1a0a4e-0000-4000-8000-000000000002','172.16.4.11','vm-2','dc1','dc2','migration','vcenter',1,5,
              '2026-12-01T00:00:00.0000000Z','2026-12-01T00:00:00.0000000Z',NULL);
            """);

        using (var store = new MobilityStore(path))
        {
            var coordinator = new MobilityCoordinator(Options, new Dictionary<string, ITunnelRouter>(), store);

            Assert.Equal([IPAddress.Parse(HeldAwayEid)], coordinator.EidsHeldAway());
            Assert.Equal([IPAddress.Parse(MovedEid)], coordinator.EidsAt("dc2"));
            Assert.Equal(new EidOwner("rloc 192.0.2.7", HeldAway: true), store.Owners()[HeldAwayEid]);
            Assert.False(store.Move(Guid.Parse("5c1a0a4e-0000-4000-8000-000000000002"))!.HeldAway);
        }

        // Opened again (the migration ran once): the same, and a hold-away journaled now is flagged by itself.
        using var again = new MobilityStore(path);
        var now = DateTimeOffset.UnixEpoch;
        again.Begin(new MoveRecord(Guid.NewGuid(), "172.16.4.12", "172.16.4.12", "dc1", "192.0.2.8", "reconciled", "reconciler", MoveState.Converged, MoveStep.Done,
            now, now, null, HeldAway: true));
        Assert.Equal([HeldAwayEid, "172.16.4.12"], again.Owners().Where(o => o.Value.HeldAway).Select(o => o.Key).Order(StringComparer.Ordinal));
        Assert.Equal(1L, Sql(path, "PRAGMA user_version"));
    }

    private static MobilityOptions Options => new()
    {
        Ranges = [new DynamicEidRangeOptions { Name = "vm-web", Prefix = "172.16.4.0/24", HomeSite = "dc1", Sites = ["dc1", "dc2"] }],
    };

    private static object? Sql(string path, string sql)
    {
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
