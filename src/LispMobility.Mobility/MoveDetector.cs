using System.Collections.Concurrent;
using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Watchers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility;

/// <summary>What the detector made of one address of one fact.</summary>
public enum DetectionKind
{
    /// <summary>A move was started.</summary>
    Move,
    /// <summary>The EID is already at that site (or moving there): noise, nothing to do.</summary>
    AlreadyThere,
    /// <summary>Inside the hold-down after its last move; re-examined when it ends.</summary>
    HeldDown,
    /// <summary>The address is in no dynamic-EID range: refused and audited.</summary>
    OutsideRanges,
    /// <summary>The range may not live at that site: refused and audited.</summary>
    SiteNotAllowed,
    /// <summary>The fact names no site (host not in the site map).</summary>
    UnknownSite,
    /// <summary>Not a placement fact (power off, gone).</summary>
    NotAPlacement,
    /// <summary>The site is served by another agent; this one does not act.</summary>
    NotLocal,
}

/// <summary>What the watchers last said of one EID: the VM, the site it runs at (or left, when not <paramref name="Present"/>), when.</summary>
public sealed record Sighting(string Vm, string Site, bool Present, DateTimeOffset Seen);

/// <summary>One decision, with the move it started (if any).</summary>
public sealed record Detection(IPAddress? Eid, DetectionKind Kind, string Detail, Task<MoveOutcome>? Move = null);

/// <summary>
/// Turns watchers' facts into moves: resolves addresses to EIDs in dynamic-EID ranges, folds duplicates
/// (the same move seen by two watchers, a VM reported at the site it is at), damps flapping with a
/// hold-down, and refuses — with an audit record — addresses outside every range or ranges not allowed at a site.
/// </summary>
public sealed partial class MoveDetector(MobilityCoordinator coordinator, TimeSpan holdDown, TimeProvider? time = null, ILogger<MoveDetector>? logger = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger<MoveDetector>.Instance;
    private readonly ConcurrentDictionary<string, (string Site, Task<MoveOutcome> Task, DateTimeOffset Started)> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WorkloadObserved> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Sighting> _inventory = new(StringComparer.Ordinal);

    /// <summary>The watchers' view, per EID of a range: where each VM was last seen running (the reconciler's first view).</summary>
    public IReadOnlyDictionary<string, Sighting> Inventory => _inventory;

    /// <summary>Reads facts until cancelled; one bad fact never stops the loop.</summary>
    public async Task RunAsync(IWorkloadEvents events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        await foreach (var fact in events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                Observe(fact);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFactFailed(e, fact.Name);
            }
        }
    }

    /// <summary>Decides what a fact means, starting the moves it calls for.</summary>
    public IReadOnlyList<Detection> Observe(WorkloadObserved fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (fact.Change is WorkloadChange.PoweredOff or WorkloadChange.Gone)
        {
            // Gone from a site it was last seen at; a report from a site it already left says nothing about where it is.
            foreach (var a in fact.Addresses.Where(a => fact.Site is not null && _inventory.TryGetValue(a.ToString(), out var s) && string.Equals(s.Site, fact.Site, StringComparison.OrdinalIgnoreCase)))
            {
                _inventory[a.ToString()] = new Sighting(fact.Name, fact.Site!, false, _time.GetUtcNow());
            }

            return [new Detection(null, DetectionKind.NotAPlacement, $"{fact.Change} of {fact.Name}")];
        }

        if (fact.Site is null) return [Refuse(fact, null, DetectionKind.UnknownSite, $"host {fact.Host} is in no configured site")];
        var decisions = new List<Detection>();
        foreach (var address in fact.Addresses.Distinct())
        {
            if (address.IsIPv6LinkLocal) continue;
            decisions.Add(Decide(fact, address, fact.Site));
        }

        return decisions;
    }

    private Detection Decide(WorkloadObserved fact, IPAddress eid, string site)
    {
        var range = coordinator.RangeOf(eid);
        if (range is null) return Refuse(fact, eid, DetectionKind.OutsideRanges, $"{eid} is outside every dynamic-EID range");
        if (!range.Allows(site)) return Refuse(fact, eid, DetectionKind.SiteNotAllowed, $"range '{range.Name}' may not live at site {site}");
        var key = eid.ToString();
        var now = _time.GetUtcNow();
        _latest[key] = fact;
        _inventory[key] = new Sighting(fact.Name, site, true, now);
        if (_inFlight.TryGetValue(key, out var running))
        {
            var sameSite = string.Equals(running.Site, site, StringComparison.OrdinalIgnoreCase);
            if (!running.Task.IsCompleted && sameSite) return new Detection(eid, DetectionKind.AlreadyThere, $"already moving to {site}", running.Task);
            // Flap damping applies to moves that happened; a failed move left the EID where it was, so a report tries again.
            var moved = !running.Task.IsCompleted || running.Task.IsCompletedSuccessfully && running.Task.Result.Converged;
            if (moved && !sameSite && now - running.Started < holdDown)
            {
                _ = RecheckAfterAsync(fact, eid, holdDown - (now - running.Started));
                return new Detection(eid, DetectionKind.HeldDown, $"moved to {running.Site} {(now - running.Started).TotalMilliseconds:0} ms ago; re-examined after the hold-down");
            }
        }

        // The coordinator's owner already accounts for a move run by another site's agent (this site's xTR then holds the EID away).
        var owner = coordinator.OwnerOf(eid);
        if (string.Equals(owner, site, StringComparison.OrdinalIgnoreCase) && (running.Task is null || running.Task.IsCompleted))
        {
            return new Detection(eid, DetectionKind.AlreadyThere, $"{eid} is already at {site}");
        }

        if (!coordinator.LocalSites.Contains(site, StringComparer.OrdinalIgnoreCase))
        {
            return new Detection(eid, DetectionKind.NotLocal, $"site {site} is served by another agent");
        }

        var trigger = fact.Change switch
        {
            WorkloadChange.Failover => "failover",
            WorkloadChange.Failback => "failback",
            WorkloadChange.Migrated => "migration",
            WorkloadChange.PoweredOn => "power-on",
            _ => "discovery",
        };
        var task = coordinator.MoveAsync(new MoveIntent(eid, fact.Name, owner, site, trigger, fact.Source));
        _inFlight[key] = (site, task, now);
        LogMoveDetected(key, fact.Name, owner ?? "?", site, fact.Source);
        return new Detection(eid, DetectionKind.Move, $"{owner ?? "?"} -> {site}", task);
    }

    // Only the latest report of an EID is re-examined: when it flapped several times inside the hold-down, or a later report
    // confirmed where it is, an older held report must not move it back.
    private async Task RecheckAfterAsync(WorkloadObserved fact, IPAddress eid, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time).ConfigureAwait(false);
            if (fact.Site is { } site && _latest.TryGetValue(eid.ToString(), out var latest) && ReferenceEquals(latest, fact)) Decide(fact, eid, site);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogFactFailed(e, fact.Name);
        }
    }

    private Detection Refuse(WorkloadObserved fact, IPAddress? eid, DetectionKind kind, string detail)
    {
        coordinator.Store.Audit(new AuditEntry(0, _time.GetUtcNow(), null, eid?.ToString(), fact.Name, fact.PreviousSite, fact.Site, "refused",
            fact.Change.ToString(), fact.Source, kind.ToString(), detail, null));
        LogRefused(fact.Name, detail);
        return new Detection(eid, kind, detail);
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Move of {Eid} ({Vm}) detected: {From} -> {To} (from {Source})")]
    private partial void LogMoveDetected(string eid, string vm, string from, string to, string source);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Refused {Vm}: {Detail}")]
    private partial void LogRefused(string vm, string detail);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "A fact about {Vm} could not be handled")]
    private partial void LogFactFailed(Exception exception, string vm);
}
