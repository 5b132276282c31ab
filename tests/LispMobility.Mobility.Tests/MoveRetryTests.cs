using System.Collections.Concurrent;
using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;

namespace LispMobility.Mobility.Tests;

/// <summary>A move that failed for a transient cause is tried again, each try its own journaled move, until one converges or a newer move supersedes it.</summary>
public sealed class MoveRetryTests : IAsyncLifetime
{
    private static readonly IPAddress Eid = IPAddress.Parse("172.16.5.10");
    private MobilityLab _lab = null!;

    public async Task InitializeAsync() => _lab = await MobilityLab.StartAsync();

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private (MobilityCoordinator Coordinator, FaultyTunnelRouter Dc2, MoveRetry Retry, ConcurrentQueue<MoveOutcome> Ends) Start(TimeSpan backoff,
        IReadOnlyDictionary<string, Sighting>? inventory = null)
    {
        var dc2 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc2]);
        var options = _lab.MobilityOptions() with { StepAttempts = 1, RetryBackoff = backoff, RetryBackoffMax = backoff * 4 };
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc2 ? dc2 : r, options: options);
        var ends = new ConcurrentQueue<MoveOutcome>();
        coordinator.MoveFinished += (_, m) => ends.Enqueue(m);
        coordinator.Adopt(Eid, MobilityLab.Dc1);
        return (coordinator, dc2, new MoveRetry(coordinator, options, inventory: inventory), ends);
    }

    [Fact]
    public async Task A_move_failing_while_the_map_server_is_unreachable_is_retried_until_it_converges_and_each_try_is_journaled()
    {
        var (coordinator, dc2, retry, ends) = Start(TimeSpan.FromMilliseconds(50));
        using var _ = retry;
        dc2.FailNext(RouterCall.Register, 2);

        var first = await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc2, "migration", "test"));

        Assert.False(first.Converged);
        await MobilityLab.Eventually(() => ends.Any(m => m.Converged), "a retry converged");
        Assert.Equal([MoveState.Failed, MoveState.Failed, MoveState.Converged], ends.Select(m => m.State));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(Eid));
        var journal = ends.Select(m => coordinator.Store.Move(m.Id)!).ToList();
        Assert.Equal(["migration", MoveRetry.Trigger, MoveRetry.Trigger], journal.Select(m => m.Trigger));
        Assert.Equal([$"retry 1 of {ends.First().Id}", $"retry 2 of {ends.ElementAt(1).Id}"], journal.Skip(1).Select(m => m.Source));
        Assert.Empty(retry.Attempts);
    }

    [Fact]
    public async Task A_newer_move_of_the_eid_supersedes_the_retry()
    {
        var (coordinator, dc2, retry, ends) = Start(TimeSpan.FromSeconds(1));
        using var _ = retry;
        dc2.FailNext(RouterCall.Register, 1);
        Assert.False((await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc2, "migration", "test"))).Converged);

        var newer = await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc1, "migration", "test"));

        Assert.True(newer.Converged, newer.Error);
        await MobilityLab.Eventually(() => retry.Waiting == 0 && retry.Attempts.Count == 0, "the retry woke and was dropped", 5);
        Assert.Equal(2, ends.Count);
        Assert.Equal(1, dc2.Calls(RouterCall.Register));
        Assert.Null(_lab.HostRegistrationSite(Eid));
    }

    [Fact]
    public async Task A_retry_whose_vm_was_since_seen_gone_from_the_site_is_dropped()
    {
        var inventory = new ConcurrentDictionary<string, Sighting>(StringComparer.Ordinal);
        var (coordinator, dc2, retry, ends) = Start(TimeSpan.FromMilliseconds(300), inventory);
        using var _ = retry;
        dc2.FailNext(RouterCall.Register, 1);
        Assert.False((await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc2, "migration", "test"))).Converged);

        // The VM left DC2 again while the retry waited (its watcher saw it gone).
        inventory[Eid.ToString()] = new Sighting("vm", MobilityLab.Dc2, Present: false, DateTimeOffset.UtcNow);

        await MobilityLab.Eventually(() => retry.Waiting == 0 && retry.Attempts.Count == 0, "the retry woke and was dropped", 5);
        Assert.Single(ends);
        Assert.Equal(1, dc2.Calls(RouterCall.Register));
        Assert.Null(_lab.HostRegistrationSite(Eid));
    }

    [Fact]
    public async Task A_retry_of_a_move_home_is_dropped_once_the_home_site_was_told_that_another_site_took_the_eid_since()
    {
        // Chaos seeds 570169274 and 1354157846: DC1's data-plane watcher never reports the VM gone; DC1's xTR is told instead.
        var dc1 = new FaultyTunnelRouter(_lab.Xtrs[MobilityLab.Dc1]);
        var options = _lab.MobilityOptions() with { StepAttempts = 1, RetryBackoff = TimeSpan.FromSeconds(2), RetryBackoffMax = TimeSpan.FromSeconds(8) };
        var coordinator = _lab.Coordinator(wrap: r => r.Site == MobilityLab.Dc1 ? dc1 : r, options: options);
        var ends = new ConcurrentQueue<MoveOutcome>();
        coordinator.MoveFinished += (_, m) => ends.Enqueue(m);
        coordinator.Adopt(Eid, MobilityLab.Dc1);
        Assert.True((await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc2, "migration", "test"))).Converged);
        using var retry = new MoveRetry(coordinator, options);

        // The move home registers and withdraws the /32 at DC1, then gets no Map-Reply to confirm it (loss).
        dc1.FailNext(RouterCall.Resolve, 1);
        var failed = await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc1, "migration", "test"));
        Assert.True(failed is { Converged: false, Retryable: true }, failed.Error);

        // Before the back-off ends the VM is back at DC2, whose own agent registers it; the Map-Server tells DC1. Not before DC2
        // acknowledged the news of the withdrawal: news crossing a registration wins, and the registration would fail.
        await MobilityLab.Eventually(() => _lab.MapServer.Server.PendingNotifyCount == 0, "DC2 acknowledged the news of the move home");
        await _lab.Xtrs[MobilityLab.Dc2].RegisterHostAsync(Eid, MobilityLab.VmRange);
        await MobilityLab.Eventually(() => _lab.Xtrs[MobilityLab.Dc1].HostOf(Eid)?.State is HostState.Away, "DC1 told the EID is away");

        await MobilityLab.Eventually(() => retry.Waiting == 0 && retry.Attempts.Count == 0, "the retry woke and was dropped", 15);
        Assert.Equal(2, ends.Count);
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(Eid));
        Assert.Equal(HostState.Away, _lab.Xtrs[MobilityLab.Dc1].HostOf(Eid)?.State);
        Assert.Equal(0, dc1.Calls(RouterCall.Hosts)); // the news of one EID is read for that EID, not from a copy of every host
    }

    [Fact]
    public async Task A_sighting_older_than_the_failed_move_does_not_stop_its_retry()
    {
        var inventory = new ConcurrentDictionary<string, Sighting>(StringComparer.Ordinal)
        {
            [Eid.ToString()] = new Sighting("vm", MobilityLab.Dc2, Present: false, DateTimeOffset.UtcNow - TimeSpan.FromDays(7)),
        };
        var (coordinator, dc2, retry, ends) = Start(TimeSpan.FromMilliseconds(50), inventory);
        using var _ = retry;
        dc2.FailNext(RouterCall.Register, 1);
        Assert.False((await coordinator.MoveAsync(new MoveIntent(Eid, "vm", null, MobilityLab.Dc2, "failover", "test"))).Converged);

        await MobilityLab.Eventually(() => ends.Any(m => m.Converged), "the retry converged");
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(Eid));
    }
}
