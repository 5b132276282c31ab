using System.Collections.Concurrent;
using System.Net;
using LispMobility.Mobility.Persistence;

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
