using System.Diagnostics;
using LispMobility.TestSupport.Vcsim;

namespace LispMobility.Watchers.Tests.VCenter;

/// <summary>vCenter stopped and restarted under a running watcher (its own simulator: the restart resets the inventory).</summary>
public sealed class VCenterOutageTests(VcsimFixture vcsim) : IClassFixture<VcsimFixture>
{
    [Fact]
    public async Task Outage_is_reported_once_nothing_moves_meanwhile_and_the_feed_heals_after_restart()
    {
        await using var run = new WatcherRun(vcsim).Start();
        await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM0", TimeSpan.FromSeconds(15));
        await run.WaitForLogAsync(4020, TimeSpan.FromSeconds(10));
        run.Drain();

        await vcsim.StopAsync();
        await run.WaitForLogAsync(4041, TimeSpan.FromSeconds(10));
        await Task.Delay(3000); // several failed reconnections
        Assert.Single(run.Log.Collector.GetSnapshot(), l => l.Id.Id == 4041);
        Assert.Empty(run.Drain());
        Assert.False(run.Running.IsCompleted);

        await vcsim.RestartAsync();
        await run.WaitForLogAsync(4043, TimeSpan.FromSeconds(15));
        // The restarted simulator has the same inventory: the reconciliation finds nothing that moved.
        Assert.Empty(run.Drain());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (run.Log.Collector.GetSnapshot().Count(l => l.Id.Id == 4020) < 2 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(run.Log.Collector.GetSnapshot().Count(l => l.Id.Id == 4020) >= 2, "the change feed was not recreated after the restart");

        // Timed from the migration's end (the client returns once vCenter completed it), not from the client's start.
        await vcsim.RunAsync("migrate", "DC0_C0_RP0_VM0", VcsimFixture.StandaloneHost);
        var clock = Stopwatch.StartNew();
        var moved = await run.NextAsync(f => f.Name == "DC0_C0_RP0_VM0", TimeSpan.FromSeconds(3));
        Assert.Equal((WorkloadChange.Migrated, "DC0_H0", "dr"), (moved.Change, moved.Host, moved.Site));
        Assert.True(clock.Elapsed <= TimeSpan.FromSeconds(2), $"reported after {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
