using System.Net;
using LispMobility.Watchers.DataPlane;
using LispMobility.Xtr;
using LispMobility.Xtr.Caching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility;

/// <summary>One difference the reconciler found and the move it handed to the coordinator for it.</summary>
public sealed record Repair(IPAddress Eid, string Site, string Difference, Task<MoveOutcome> Move);

/// <summary>One reconciliation pass: what was checked, what the mapping system did not answer, what was repaired.</summary>
public sealed record ReconcileReport(string Cause, int Checked, int Unanswered, IReadOnlyList<Repair> Repairs);

/// <summary>
/// Heals what faults left wrong (a Map-Server outage across a move, a site down while its VM moved away, a crash): per EID
/// of this agent's ranges that the watchers, the journal or the xTR know, it compares where the watchers last saw the VM,
/// what the Map-Resolver answers and the local xTR's state, and hands every difference to the coordinator as a move with
/// the trigger "reconciled". It changes nothing itself. An EID whose move is running is left to that move, and a repair that a
/// move started after the views were read overtakes is dropped by the coordinator (superseded), not run after it.
/// </summary>
/// <remarks>
/// Each agent sees only its own hypervisors, so a VM that left is still "last seen here" for this site's watcher; and news
/// that another site took the EID may be stale (that site re-registering, after a Map-Server restart, a VM it no longer
/// has). When the mapping system maps the EID elsewhere, or the local xTR was told it is away after the VM was last seen
/// here, the <paramref name="probe"/> (ARP/ND on the VM-facing interface) decides; a VM that does not answer here while this
/// site still registers its /32 is held away, so that the stale registration stops contesting the site that has it.
/// Without a probe, the news wins when it is newer than the sighting (or this agent's journal places the EID elsewhere),
/// and nothing is moved.
/// </remarks>
public sealed partial class Reconciler(MobilityCoordinator coordinator, MoveDetector detector, TimeSpan holdDown, ILivenessProbe? probe = null,
    TimeProvider? time = null, ILogger<Reconciler>? logger = null)
{
    /// <summary>The trigger (and audit cause) of the moves it starts.</summary>
    public const string Trigger = "reconciled";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger<Reconciler>.Instance;
    private readonly SemaphoreSlim _oneAtATime = new(1);
    // EIDs probed once for want of a sighting (CompareUnseenAsync); read and written under _oneAtATime.
    private readonly HashSet<string> _probedUnseen = new(StringComparer.Ordinal);

    /// <summary>Runs one pass (at start, on reconnecting to a Map-Server, periodically); passes never overlap.</summary>
    public async Task<ReconcileReport> RunAsync(string cause, CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Read before any view: a move of an EID that starts while the views are read (or while the mapping system is asked,
            // seconds under loss) makes this pass's verdict on it stale, and the coordinator then drops the repair it queued.
            var decidedAt = coordinator.MovesStarted;
            var inventory = detector.Inventory.ToDictionary(StringComparer.Ordinal);
            var repairs = new List<Repair>();
            int checkedCount = 0, unanswered = 0;
            foreach (var site in coordinator.LocalSites)
            {
                var router = coordinator.RouterAt(site)!;
                var hosts = router.Hosts().Where(h => h.Eid.IsHost).ToDictionary(h => h.Eid.Address.ToIPAddress().ToString(), StringComparer.Ordinal);
                // The journal places these here, or last saw them leave while the site was down (held away since).
                var placedHere = coordinator.EidsAt(site).Concat(coordinator.EidsHeldAway()).Select(e => e.ToString()).ToHashSet(StringComparer.Ordinal);
                var eids = inventory.Keys.Concat(placedHere).Concat(hosts.Keys).Distinct(StringComparer.Ordinal)
                    .Select(IPAddress.Parse).Where(e => coordinator.RangeOf(e)?.Allows(site) == true && !coordinator.IsMoving(e)).ToList();
                if (eids.Count == 0) continue;
                var answers = await router.ResolveManyAsync(eids, refresh: true, cancellationToken).ConfigureAwait(false);
                var ours = router.Rlocs.Select(l => l.Address).ToHashSet();
                for (var i = 0; i < eids.Count; i++)
                {
                    checkedCount++;
                    var entry = answers[i].Entry;
                    if (entry is null) unanswered++;
                    var mappedHere = entry is not null && entry.Locators.Count > 0 && entry.Locators.All(l => ours.Contains(l.Address));
                    var mappedTo = entry is null ? "no answer" : mappedHere ? site : $"{entry.Eid} at {string.Join(", ", entry.Locators.Select(l => l.Address))}";
                    var key = eids[i].ToString();
                    if (coordinator.MovedSince(eids[i], decidedAt)) continue;
                    var repair = !inventory.ContainsKey(key) && placedHere.Contains(key)
                        ? await CompareUnseenAsync(eids[i], site, hosts.GetValueOrDefault(key), entry, entry is null ? null : mappedHere, mappedTo, decidedAt, cancellationToken).ConfigureAwait(false)
                        : await CompareAsync(eids[i], site, hosts.GetValueOrDefault(key), inventory.GetValueOrDefault(key), entry, entry is null ? null : mappedHere, mappedTo,
                            decidedAt, cancellationToken).ConfigureAwait(false);
                    if (repair is not null)
                    {
                        repairs.Add(repair);
                        LogRepair(repair.Eid.ToString(), site, repair.Difference, cause);
                    }
                }
            }

            LogPass(cause, checkedCount, unanswered, repairs.Count);
            return new ReconcileReport(cause, checkedCount, unanswered, repairs);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    // The three views of one EID at one local site; a repair when they disagree.
    // mappedHere is null when the mapping system did not answer: only what the local views show is repaired then.
    private async Task<Repair?> CompareAsync(IPAddress eid, string site, HostInfo? host, Sighting? seen, MapCacheEntry? entry, bool? mappedHere, string mappedTo,
        long decidedAt, CancellationToken ct)
    {
        var range = coordinator.RangeOf(eid)!;
        var home = range.IsHome(site);
        var state = host?.State;
        if (seen is { Present: true } && string.Equals(seen.Site, site, StringComparison.OrdinalIgnoreCase))
        {
            // Never a blackhole for a VM that is here: away, mapped elsewhere, or (away from home) not held by its /32.
            var difference = state is HostState.Away ? $"the VM runs here but {site} holds it away (mapped to {mappedTo})"
                : mappedHere is false ? $"the VM runs here but the mapping system maps it to {mappedTo}"
                : mappedHere is true && !home && state is not (HostState.Registered or HostState.Registering) ? $"the VM runs here but {site} does not register its /32 (state {state?.ToString() ?? "none"})"
                : null;
            if (difference is null) return null;

            // Contested: the site learnt it lost the EID after the VM was last seen here (or this agent knows it moved away).
            var contested = state is HostState.Away ? host!.Since > seen.Seen : !string.Equals(coordinator.OwnerOf(eid), site, StringComparison.OrdinalIgnoreCase);

            // Mapped elsewhere, the probe decides even when this agent's journal owns the EID: the sighting here can be older than
            // the other site's (each agent sees only its own hypervisors), and a move on it would take the VM from where it runs.
            // Null: not asked (no probe, or nothing contradicts the sighting).
            bool? answers = probe is not null && (contested || mappedHere is false) ? await probe.IsAliveAsync(eid, ct).ConfigureAwait(false) : null;
            if (answers is false || (answers is null && contested))
            {
                // This site still registers a /32 another site registered since (the Map-Server restarted or was out of reach,
                // and the news of the VM leaving never came): its next refresh would take the VM back, so it holds it away.
                if (answers is false && entry is { Eid.IsHost: true } && state is (HostState.Registered or HostState.Registering or HostState.Unconfirmed))
                {
                    var stale = $"{site} still registers the /32 of a VM that does not answer a probe here, and another site registered it since (mapped to {mappedTo}): {site} holds it away";
                    return new Repair(eid, site, stale, coordinator.HoldAwayAsync(eid, site, entry, Trigger, stale, decidedAt, ct));
                }

                LogLeft(eid.ToString(), site, difference, answers is null ? "no liveness probe to check" : "it does not answer a probe here");
                return null;
            }

            return new Repair(eid, site, difference, coordinator.MoveAsync(new MoveIntent(eid, seen.Vm, null, site, Trigger, "reconciler", decidedAt), ct));
        }

        // Never a registration for a VM that is gone, once the hold-down has passed (it may be on its way back).
        if (seen is null || home || state is not (HostState.Registered or HostState.Registering or HostState.Unconfirmed)) return null;
        if (_time.GetUtcNow() - seen.Seen < holdDown) return null;
        var toSite = seen.Present ? seen.Site : null;
        return new Repair(eid, site, $"{site} registers the /32 of a VM the watchers place {(toSite is null ? "nowhere (gone from " + seen.Site + ")" : "at " + toSite)}",
            coordinator.ReleaseAsync(eid, seen.Vm, site, toSite, Trigger, decidedAt, ct));
    }

    // An EID the journal places here that no watcher has reported since this agent started: a VM that arrived while the agent
    // was down and has been silent since (kill -9 chaos, seed 667761375) is invisible to a sniffer, and no other site can
    // register it. Mapped elsewhere, it is probed here once; if it answers, it is moved here. If it does not, it left while
    // the agent was down (kill -9 chaos, seed 275803250): the restarted xTR holds no away state, and the Map-Server, told the
    // news was acknowledged before the crash, will not tell again, so the site is made to hold it away.
    private async Task<Repair?> CompareUnseenAsync(IPAddress eid, string site, HostInfo? host, MapCacheEntry? entry, bool? mappedHere, string mappedTo,
        long decidedAt, CancellationToken ct)
    {
        if (mappedHere is not false || entry is null || !_probedUnseen.Add(eid.ToString())) return null;
        if (probe is not null && await probe.IsAliveAsync(eid, ct).ConfigureAwait(false))
        {
            return new Repair(eid, site, $"no watcher has reported the VM since this agent started, but it answers a probe here and the mapping system maps it to {mappedTo}",
                coordinator.MoveAsync(new MoveIntent(eid, eid.ToString(), null, site, Trigger, "reconciler", decidedAt), ct));
        }

        // Held away only for a /32 (or /128) that another site registered: an aggregate elsewhere is no site taking the VM.
        if (!entry.Eid.IsHost || host?.State is HostState.Away) return null;

        var difference = $"the journal places the VM here but no watcher has reported it since this agent started{(probe is null ? "" : ", it does not answer a probe here,")} and the mapping system maps it to {mappedTo}: {site} holds it away";
        return new Repair(eid, site, difference, coordinator.HoldAwayAsync(eid, site, entry, Trigger, difference, decidedAt, ct));
    }

    [LoggerMessage(EventId = 3300, Level = LogLevel.Warning, Message = "Reconciling {Eid} at {Site} ({Cause}): {Difference}")]
    private partial void LogRepair(string eid, string site, string difference, string cause);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Information, Message = "{Eid} was last seen at {Site} but another site took it since ({Difference}); taken as moved away: {Why}")]
    private partial void LogLeft(string eid, string site, string difference, string why);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Reconciliation ({Cause}): {Checked} EID view(s) compared, {Unanswered} without an answer from the mapping system, {Repairs} repair(s) started")]
    private partial void LogPass(string cause, int @checked, int unanswered, int repairs);
}
