using System.Collections.Concurrent;
using LispMobility.Mobility.Configuration;
using LispMobility.Xtr;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility;

/// <summary>
/// A move that failed for a transient cause (Map-Server unreachable, timeout, the mapping not changed yet) is not the end:
/// it is started again — a new journaled move with the trigger "retry", so `moves` shows each attempt — after a doubling,
/// jittered wait, until one converges or a newer move of the EID (the detector's, the reconciler's) supersedes it. A retry
/// is dropped when the VM was since seen elsewhere, or when the move's site was since told that another site holds the EID.
/// </summary>
public sealed partial class MoveRetry : IDisposable
{
    /// <summary>The trigger of the moves it starts.</summary>
    public const string Trigger = "retry";

    private readonly MobilityCoordinator _coordinator;
    private readonly MobilityOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, Sighting>? _inventory;

    /// <summary>
    /// Watches the coordinator's moves as they end. <paramref name="inventory"/> is the watchers' view (the detector's): a
    /// retry whose VM was since seen gone from the move's site, or at another one, is dropped rather than undoing where the
    /// VM really is.
    /// </summary>
    public MoveRetry(MobilityCoordinator coordinator, MobilityOptions options, TimeProvider? time = null, ILogger<MoveRetry>? logger = null,
        IReadOnlyDictionary<string, Sighting>? inventory = null)
    {
        _inventory = inventory;
        _coordinator = coordinator ?? throw new ArgumentNullException(nameof(coordinator));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<MoveRetry>.Instance;
        _coordinator.MoveFinished += OnMoveFinished;
    }

    private int _waiting;

    /// <summary>Failed tries so far of the EIDs whose moves are being retried.</summary>
    public IReadOnlyDictionary<string, int> Attempts => _attempts;

    /// <summary>Retries waiting for their back-off to pass.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    private void OnMoveFinished(object? sender, MoveOutcome move)
    {
        var key = move.Eid.ToString();
        if (move.Converged || !move.Retryable)
        {
            _attempts.TryRemove(key, out _);
            return;
        }

        var attempt = _attempts.AddOrUpdate(key, 1, (_, n) => n + 1);
        Interlocked.Increment(ref _waiting);
        // Raised while the failed move still holds its EID: no other move of it can have started yet.
        _ = RetryAsync(move, attempt, _time.GetUtcNow() - move.Total, _coordinator.MovesStarted);
    }

    private async Task RetryAsync(MoveOutcome failed, int attempt, DateTimeOffset started, long decidedAt)
    {
        var delay = Backoff(attempt);
        LogScheduled(failed.Eid.ToString(), failed.ToSite, attempt, delay.TotalSeconds, failed.Error ?? "");
        try
        {
            try
            {
                await Task.Delay(delay, _time, _stop.Token).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }

            if (_coordinator.MovedSince(failed.Eid, decidedAt) || _coordinator.IsMoving(failed.Eid))
            {
                _attempts.TryRemove(failed.Eid.ToString(), out _);
                LogSuperseded(failed.Eid.ToString(), failed.Id);
                return;
            }

            // Found under 30 % loss (chaos seed 570169274): a move home failed, the VM went back to the other site before the
            // back-off ended (a move detected there, so nothing here superseded it), and the retry "converged" a route to a
            // VM that was not here. The watchers' latest word on the VM outranks a retry.
            Sighting? seen = null;
            if (_inventory is not null && _inventory.TryGetValue(failed.Eid.ToString(), out seen) &&
                (!seen.Present || !string.Equals(seen.Site, failed.ToSite, StringComparison.OrdinalIgnoreCase)) && seen.Seen > started)
            {
                _attempts.TryRemove(failed.Eid.ToString(), out _);
                LogVmElsewhere(failed.Eid.ToString(), failed.ToSite, seen.Present ? $"seen at {seen.Site}" : $"gone from {seen.Site}");
                return;
            }

            // A watcher that sees only its own site never reports the VM elsewhere (the data-plane sniffer): there, the site's
            // xTR knows instead — the Map-Server told it after the failed move started that another site holds the EID (seeds
            // 570169274, 1354157846). Such news outranks the retry; if it is stale (the VM is here after all), the reconciler's
            // probe settles it.
            if (NewsSince(failed, started, seen) is { } news)
            {
                _attempts.TryRemove(failed.Eid.ToString(), out _);
                LogVmElsewhere(failed.Eid.ToString(), failed.ToSite, news);
                return;
            }

            // With decidedAt, a move of the EID that starts between this check and the retry's turn supersedes the retry.
            await _coordinator.MoveAsync(new MoveIntent(failed.Eid, failed.Vm, failed.FromSite, failed.ToSite, Trigger, $"retry {attempt} of {failed.Id}", decidedAt),
                _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopping: the journal keeps the failed move, and the reconciler compares again at the next start.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRetryFailed(e, failed.Eid.ToString());
        }
    }

    // Why the retry is moot when the move's site holds the EID away since after the failed move started and after the watchers
    // last saw the VM there; null otherwise.
    private string? NewsSince(MoveOutcome failed, DateTimeOffset started, Sighting? seen)
    {
        var host = _coordinator.RouterAt(failed.ToSite)?.HostOf(failed.Eid);
        if (host is not { State: HostState.Away } || host.Since <= started) return null;
        var seenHere = seen is { Present: true } && string.Equals(seen.Site, failed.ToSite, StringComparison.OrdinalIgnoreCase) && seen.Seen > host.Since;
        return seenHere ? null : $"reported away at {failed.ToSite} (told another site holds it, {host.Since:HH:mm:ss.fff}) and not seen there since";
    }

    private TimeSpan Backoff(int attempt)
    {
        var doubled = _options.RetryBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        var capped = Math.Min(doubled, _options.RetryBackoffMax.TotalMilliseconds);
        // Up to a quarter less, so that EIDs failed together by one outage do not all come back in the same instant.
        return TimeSpan.FromMilliseconds(capped * (1 - Random.Shared.NextDouble() * 0.25));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _coordinator.MoveFinished -= OnMoveFinished;
        _stop.Cancel();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 3400, Level = LogLevel.Warning, Message = "The move of {Eid} to {Site} is tried again ({Attempt}) in {Seconds:0.0} s: {Error}")]
    private partial void LogScheduled(string eid, string site, int attempt, double seconds, string error);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Information, Message = "The retry of {Eid} is dropped: a newer move than {MoveId} superseded it")]
    private partial void LogSuperseded(string eid, Guid moveId);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Information, Message = "The retry of the move of {Eid} to {Site} is dropped: the VM was since {Where}")]
    private partial void LogVmElsewhere(string eid, string site, string where);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Error, Message = "The retry of the move of {Eid} could not be started")]
    private partial void LogRetryFailed(Exception exception, string eid);
}
