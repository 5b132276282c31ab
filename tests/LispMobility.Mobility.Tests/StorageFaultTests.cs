using System.Diagnostics;
using System.Net;
using LispMobility.Mobility.Persistence;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// Issue 16, fault 3: the journal on a full disk (a 256 KiB tmpfs, filled). The move must go on, the store must say why it
/// is degraded, and every record must reach the file once space is freed. Runs as root (mount).
/// </summary>
public sealed class StorageFaultTests : IAsyncLifetime
{
    private readonly string _mount = Directory.CreateTempSubdirectory("lm-full-").FullName;
    private MobilityLab _lab = null!;
    private bool _mounted;

    public async Task InitializeAsync()
    {
        Run("mount", $"-t tmpfs -o size=256k tmpfs {_mount}");
        _mounted = true;
        _lab = await MobilityLab.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _lab.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_mounted) Run("umount", $"-l {_mount}");
        Directory.Delete(_mount, recursive: true);
    }

    private string Filler => Path.Combine(_mount, "filler");

    [Fact]
    public async Task A_move_on_a_full_disk_converges_reports_the_store_degraded_and_its_records_land_once_space_is_freed()
    {
        var database = Path.Combine(_mount, "mobility.db");
        using var store = new MobilityStore(database);
        var coordinator = _lab.Coordinator(store);
        var eid = IPAddress.Parse("172.16.9.10");
        coordinator.Adopt(eid, MobilityLab.Dc1);
        FillDisk();

        var outcome = await coordinator.MoveAsync(new MoveIntent(eid, "vm-full", null, MobilityLab.Dc2, "migration", "test"));

        Assert.True(outcome.Converged, outcome.Error);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(eid));
        var health = store.Health;
        Assert.True(health.Degraded);
        Assert.Contains(database, health.Reason, StringComparison.Ordinal);
        Assert.Contains("disk is full", health.Reason, StringComparison.Ordinal);
        Assert.True(health.Backlog > 0);
        Assert.Equal(0, health.Dropped);

        File.Delete(Filler);
        Assert.True(store.RetryBacklog());

        Assert.False(store.Health.Degraded);
        Assert.Equal(MoveState.Converged, store.Move(outcome.Id)!.State);
        Assert.Equal(["intent", "Registered", "OldSiteAway", "GatewaysConverged", "RemoteItrsSolicited", "move"],
            store.QueryAudit(new AuditQuery(Eid: eid.ToString())).Select(a => a.Kind));
    }

    [Fact]
    public void Past_its_capacity_the_backlog_drops_the_oldest_and_counts_them()
    {
        using var store = new MobilityStore(Path.Combine(_mount, "small.db"), backlogCapacity: 5);
        FillDisk();
        for (var i = 0; i < 8; i++)
        {
            store.Audit(new AuditEntry(0, DateTimeOffset.UnixEpoch, null, $"172.16.9.{i}", null, null, null, "test", null, null, "ok", null, null));
        }

        store.RetryBacklog();

        Assert.Equal((true, 5, 3L), (store.Health.Degraded, store.Health.Backlog, store.Health.Dropped));
        File.Delete(Filler);
        Assert.True(store.RetryBacklog());
        Assert.Equal(["172.16.9.3", "172.16.9.4", "172.16.9.5", "172.16.9.6", "172.16.9.7"], store.QueryAudit(new AuditQuery()).Select(a => a.Eid));
    }

    private void FillDisk()
    {
        using var f = new FileStream(Filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        var chunk = new byte[1024];
        try
        {
            while (true) f.Write(chunk);
        }
        catch (IOException)
        {
            // Full.
        }
    }

    private static void Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args}: {p.StandardError.ReadToEnd()}");
    }
}
