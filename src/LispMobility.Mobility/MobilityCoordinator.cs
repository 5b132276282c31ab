using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using LispMobility.Fabric;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using LispMobility.Xtr.Caching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility;

/// <summary>
/// The one place that changes the network when a workload moves: one saga per move (<see cref="MoveSaga"/>: journal the
/// intent, register the /32 at the new site and await the Map-Notify, make sure the old site is away, converge the gateways,
/// solicit remote ITRs). Moves of one EID run one at a time, in the order <see cref="MoveQueue"/> keeps; moves of different
/// EIDs in parallel. It knows where each EID is (the owners its moves left) and starts, resumes, releases and fails over.
/// </summary>
public sealed class MobilityCoordinator
{
    private readonly IReadOnlyDictionary<string, ITunnelRouter> _routers;
    private readonly DynamicEidRange[] _ranges;
    private readonly ConcurrentDictionary<string, EidOwner> _owners;
    private readonly MoveQueue _queue;
    private readonly MoveJournal _journal;
    private readonly MoveSaga _saga;
    private readonly BulkMoveSaga _bulk;

    // Bulk sagas in flight at once: one waits for Map-Notifies while another sends.
    private const int BulkMovesInFlight = 4;

    /// <summary>Builds the coordinator over the xTRs of the sites this agent serves.</summary>
    public MobilityCoordinator(MobilityOptions options, IReadOnlyDictionary<string, ITunnelRouter> routers, MobilityStore store,
        IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>>? gateways = null, TimeProvider? time = null, ILogger<MobilityCoordinator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _routers = routers ?? throw new ArgumentNullException(nameof(routers));
        ArgumentNullException.ThrowIfNull(store);
        time ??= TimeProvider.System;
        _ranges = options.Ranges.Select(r => new DynamicEidRange(r, EidPrefix.Parse(r.Prefix))).ToArray();
        _owners = new ConcurrentDictionary<string, EidOwner>(store.Owners(), StringComparer.Ordinal);
        _queue = new MoveQueue(options.MaxParallelMoves);
        _journal = new MoveJournal(store, time, logger ?? (ILogger)NullLogger<MobilityCoordinator>.Instance);
        _saga = new MoveSaga(options, routers, gateways ?? new Dictionary<string, IReadOnlyList<IGatewayDriver>>(), _journal, time, p => Progress?.Invoke(this, p));
        _bulk = new BulkMoveSaga(_queue, _journal, _saga, options.MaxParallelMoves, (eid, from) => _owners.ContainsKey(eid.ToString()) ? OwnerOf(eid) : from,
            Ended, p => Progress?.Invoke(this, p));
    }

    /// <summary>Each step of each move as it finishes (raised on the saga's thread).</summary>
    public event EventHandler<MoveProgress>? Progress;

    /// <summary>Every move's end, converged, failed or superseded, whatever started it (detector, failover, resume).</summary>
    public event EventHandler<MoveOutcome>? MoveFinished;

    /// <summary>The configured ranges.</summary>
    public IReadOnlyList<DynamicEidRange> Ranges => _ranges;

    /// <summary>The sites whose xTR this agent drives.</summary>
    public IReadOnlyCollection<string> LocalSites => _routers.Keys.ToList();

    /// <summary>This agent's xTR at <paramref name="site"/>, or null.</summary>
    public ITunnelRouter? RouterAt(string site) => _routers.GetValueOrDefault(site);

    /// <summary>True while a move of <paramref name="eid"/> runs or waits behind another one.</summary>
    public bool IsMoving(IPAddress eid) => _queue.IsMoving(eid.ToString());

    /// <summary>The id of the last move of <paramref name="eid"/> started since this agent started, or null.</summary>
    public Guid? LatestMoveOf(IPAddress eid) => _queue.Latest(eid.ToString());

    /// <summary>
    /// How many moves (and releases) this coordinator has started. A decision taken on views read when the count was N is
    /// stale for an EID once <see cref="MovedSince"/>(eid, N): pass N as <see cref="MoveIntent.DecidedAt"/>.
    /// </summary>
    public long MovesStarted => _queue.Started;

    /// <summary>True when a move of <paramref name="eid"/> started after <see cref="MovesStarted"/> was <paramref name="count"/>.</summary>
    public bool MovedSince(IPAddress eid, long count) => _queue.MovedSince(eid.ToString(), count);

    /// <summary>The store (journal and audit).</summary>
    public MobilityStore Store => _journal.Store;

    /// <summary>The range that contains <paramref name="eid"/>, or null.</summary>
    public DynamicEidRange? RangeOf(IPAddress eid)
    {
        var a = LispAddress.FromIPAddress(eid);
        return _ranges.FirstOrDefault(r => r.Prefix.Contains(a));
    }

    /// <summary>The site that holds <paramref name="eid"/> now (the home site until it first moves).</summary>
    /// <remarks>
    /// Null when that site's xTR was told (Map-Notify) that another site holds the EID: a move run by another site's
    /// agent reaches this one only that way, so where the EID is now is not known here.
    /// </remarks>
    public string? OwnerOf(IPAddress eid)
    {
        var range = RangeOf(eid);
        var site = _owners.TryGetValue(eid.ToString(), out var recorded) ? recorded.Site : range?.Options.HomeSite;
        if (site is null || IsAwayAt(site, eid)) return null;

        // Away from home an EID lives only by its /32: when this agent's xTR there holds none (it went away and the /32 has
        // since been withdrawn everywhere), the recorded owner is stale too.
        return range is not null && !range.IsHome(site) && _routers.TryGetValue(site, out var router) && router.HostOf(eid)?.State is null ? null : site;
    }

    /// <summary>
    /// At start: the /32s of the EIDs this agent's sites hold away from home (as the journal says) registered again, in bulk —
    /// a restarted xTR knows none of them, and the Map-Server would let them expire. Not those the mapping system maps
    /// elsewhere now: one moved on while the agent was down (or whose /32 already expired) is not taken back; a watcher's next
    /// report of it here moves it again. Moves the journal has unfinished are left to <see cref="ResumeAsync"/>.
    /// Returns how many were registered and the EIDs left alone, with why.
    /// </summary>
    public async Task<(int Registered, IReadOnlyList<(IPAddress Eid, string Reason)> Skipped)> RestoreAsync(CancellationToken cancellationToken = default)
    {
        var unfinished = Store.Unfinished().Select(m => m.Eid).ToHashSet(StringComparer.Ordinal);
        var registered = 0;
        var skipped = new List<(IPAddress, string)>();
        foreach (var (site, router) in _routers)
        {
            var held = _owners.Where(o => At(o.Value, site) && !unfinished.Contains(o.Key))
                .Select(o => IPAddress.Parse(o.Key)).Select(e => (Eid: e, Range: RangeOf(e))).Where(e => e.Range is not null && !e.Range.IsHome(site)).ToList();
            if (held.Count == 0) continue;
            var ours = router.Rlocs.Select(l => l.Address).ToHashSet();

            // One lookup window for all of them. No answer is the usual answer: the Map-Server forwards the request to the ETR
            // that registered the /32 — this xTR, which does not know the host yet. Only a mapping elsewhere is a reason to skip.
            var answers = await router.ResolveManyAsync(held.Select(e => e.Eid).ToList(), refresh: true, cancellationToken).ConfigureAwait(false);
            var still = new List<(IPAddress Eid, DynamicEidRange Range)>();
            for (var i = 0; i < held.Count; i++)
            {
                var entry = answers[i].Entry;
                if (entry is null || entry.Eid.IsHost && entry.Locators.Count > 0 && entry.Locators.All(l => ours.Contains(l.Address))) still.Add((held[i].Eid, held[i].Range!));
                else skipped.Add((held[i].Eid, $"the mapping system maps it to {entry.Eid} at {string.Join(", ", entry.Locators.Select(l => l.Address))}"));
            }

            // Held like moves, so that a move the watchers start meanwhile runs before or after, not across; one it finished
            // meanwhile changed the owner, and the EID is left to it.
            using var locks = await _queue.HoldAsync(still.Select(e => e.Eid), cancellationToken).ConfigureAwait(false);
            foreach (var group in still.Where(e => _owners.TryGetValue(e.Eid.ToString(), out var owner) && At(owner, site)).GroupBy(e => e.Range))
            {
                var eids = group.Select(e => e.Eid).ToList();
                var results = router.RegisterHostsAsync(eids, group.Key.Name, cancellationToken);
                for (var i = 0; i < eids.Count; i++)
                {
                    try
                    {
                        await results[i].ConfigureAwait(false);
                        registered++;
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        skipped.Add((eids[i], "registration failed: " + e.Message));
                    }
                }
            }
        }

        foreach (var (eid, reason) in skipped) _journal.NotRestored(eid, reason);
        return (registered, skipped);
    }

    /// <summary>
    /// Whether this agent's xTR at <paramref name="site"/> was told (Map-Notify) that another site holds <paramref name="eid"/>:
    /// a move run by another site's agent reaches this one only that way, so the owner recorded here is then stale.
    /// </summary>
    public bool IsAwayAt(string site, IPAddress eid) => _routers.TryGetValue(site, out var router) && router.HostOf(eid)?.State is HostState.Away;

    /// <summary>Every EID whose owner is <paramref name="site"/> as far as this agent knows.</summary>
    public IReadOnlyList<IPAddress> EidsAt(string site) => _owners.Where(o => At(o.Value, site)).Select(o => IPAddress.Parse(o.Key)).ToList();

    /// <summary>EIDs a local site holds away by <see cref="HoldAwayAsync"/> (as the journal last recorded them): after another restart the site must again.</summary>
    public IReadOnlyList<IPAddress> EidsHeldAway() => _owners.Where(o => o.Value.HeldAway).Select(o => IPAddress.Parse(o.Key)).ToList();

    // A held-away owner names RLOCs, never a site.
    private static bool At(EidOwner owner, string site) => !owner.HeldAway && string.Equals(owner.Site, site, StringComparison.OrdinalIgnoreCase);

    /// <summary>Records that an EID lives at a site without moving it (inventory at start).</summary>
    public void Adopt(IPAddress eid, string site) => _owners.TryAdd(eid.ToString(), new EidOwner(site, HeldAway: false));

    /// <summary>Runs one move saga to its end: converged, failed with the reason, or superseded. Never half-done silently.</summary>
    public async Task<MoveOutcome> MoveAsync(MoveIntent intent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var range = RangeOf(intent.Eid) ?? throw new ArgumentException($"{intent.Eid} is in no dynamic-EID range", nameof(intent));
        if (!range.Allows(intent.ToSite)) throw new ArgumentException($"range '{range.Name}' may not live at site '{intent.ToSite}'", nameof(intent));
        var key = intent.Eid.ToString();
        using var turn = await _queue.EnterAsync(key, cancellationToken).ConfigureAwait(false);

        // Where the EID is comes from the moves this coordinator finished, read only now that the previous move of this EID
        // is over: an owner read when the intent was made is stale for a move that queued behind another.
        var from = _owners.ContainsKey(key) ? OwnerOf(intent.Eid) : intent.FromSite ?? OwnerOf(intent.Eid);
        var now = _journal.Now;
        var record = new MoveRecord(Guid.NewGuid(), key, intent.Vm, from, intent.ToSite, intent.Trigger, intent.Source, MoveState.Running, MoveStep.Journaled, now, now, null);
        if (intent.DecidedAt is { } decided && _queue.MovedSince(key, decided)) return Supersede(record, key);
        _journal.Begin([record], r => $"{r.FromSite ?? "?"} -> {r.ToSite} ({r.Trigger} via {r.Source})");
        _queue.Start(record);
        return Ended(await _saga.RunAsync(record, range, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Holds away at <paramref name="site"/> an EID that left it without the site being told, or without it remembering
    /// (the mapping system maps it to <paramref name="mapping"/> and it does not answer here; <paramref name="reason"/> says
    /// how the reconciler found it): journaled and audited like a move, so the site blackholes it, stops registering it and
    /// sends SMRs for it.
    /// </summary>
    public async Task<MoveOutcome> HoldAwayAsync(IPAddress eid, string site, MapCacheEntry mapping, string trigger, string reason, long? decidedAt = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eid);
        ArgumentNullException.ThrowIfNull(mapping);
        var router = _routers.GetValueOrDefault(site) ?? throw new ArgumentException($"site {site} is not served by this agent", nameof(site));
        var key = eid.ToString();
        using var held = await _queue.HoldAsync(key, cancellationToken).ConfigureAwait(false);
        var total = Stopwatch.StartNew();
        var now = _journal.Now;
        // The journal has no site for where the EID went: the RLOCs the mapping system gave name it.
        var toSite = string.Join(",", mapping.Locators.Select(l => l.Address));
        var move = new MoveRecord(Guid.NewGuid(), key, key, site, toSite, trigger, "reconciler", MoveState.Running, MoveStep.Journaled, now, now, null, HeldAway: true);
        if (decidedAt is { } decided && _queue.MovedSince(key, decided)) return Supersede(move, key);
        _journal.Begin([move], _ => $"away: {key} at {site}: {reason}");
        _queue.Start(move);
        router.HoldAway(eid, mapping);
        var detail = $"{key} held away at {site} (state {router.HostOf(eid)?.State.ToString() ?? "none"})";
        _journal.Converged([move], _ => detail, total.Elapsed);
        _owners[key] = new EidOwner(toSite, HeldAway: true);
        return Raise(new MoveOutcome(move.Id, eid, key, site, toSite, MoveState.Converged, [new(MoveStep.OldSiteAway, total.Elapsed, detail)], total.Elapsed, null));
    }

    /// <summary>
    /// Withdraws the /32 that this agent's xTR at <paramref name="site"/> still registers for an EID the watchers say left it
    /// (to <paramref name="toSite"/>, or gone): journaled and audited like a move, so that a VM that is gone is not attracted here.
    /// </summary>
    /// <remarks>With <paramref name="decidedAt"/> (<see cref="MovesStarted"/> when the views behind it were read), a release that a
    /// newer move of the EID overtook is closed as superseded instead.</remarks>
    public async Task<MoveOutcome> ReleaseAsync(IPAddress eid, string vm, string site, string? toSite, string trigger, long? decidedAt = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eid);
        var router = _routers.GetValueOrDefault(site) ?? throw new ArgumentException($"site {site} is not served by this agent", nameof(site));
        var key = eid.ToString();
        using var held = await _queue.HoldAsync(key, cancellationToken).ConfigureAwait(false);
        var total = Stopwatch.StartNew();
        var now = _journal.Now;
        var move = new MoveRecord(Guid.NewGuid(), key, vm, site, toSite ?? "gone", trigger, "reconciler", MoveState.Running, MoveStep.Journaled, now, now, null);
        if (decidedAt is { } decided && _queue.MovedSince(key, decided)) return Supersede(move, key);
        _journal.Begin([move], _ => $"release: {site} registers {key}, which the watchers place {(toSite is null ? "nowhere" : "at " + toSite)}");
        _queue.Start(move);
        try
        {
            await _saga.Retry.ExecuteAsync(async ct => await router.WithdrawHostAsync(eid, removeRoute: true, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Ended(_saga.Fail(move, eid, MoveStep.OldSiteAway, [], total, $"{MoveStep.OldSiteAway}: {e.Message}"));
        }

        var detail = $"/32 withdrawn at {site}";
        _journal.Converged([move], _ => detail, total.Elapsed);
        if (toSite is null) _owners.TryRemove(key, out _);
        else _owners[key] = new EidOwner(toSite, HeldAway: false);
        return Raise(new MoveOutcome(move.Id, eid, vm, site, move.ToSite, MoveState.Converged, [new(MoveStep.OldSiteAway, total.Elapsed, detail)], total.Elapsed, null));
    }

    /// <summary>
    /// Finishes the moves a crash left unfinished, from the step each had reached (every step is idempotent). Runs alongside
    /// the detector: each resumed move holds its EID like any move, and one overtaken by a newer move of the same EID is
    /// closed as superseded instead of moving the EID back.
    /// </summary>
    public async Task<IReadOnlyList<MoveOutcome>> ResumeAsync(CancellationToken cancellationToken = default)
    {
        var outcomes = new List<MoveOutcome>();
        foreach (var move in Store.Unfinished())
        {
            using var held = await _queue.HoldAsync(move.Eid, cancellationToken).ConfigureAwait(false);
            var range = RangeOf(IPAddress.Parse(move.Eid));
            var (why, state) = range is null ? ("the EID is no longer in a configured range", MoveState.Failed)
                : !_routers.ContainsKey(move.ToSite) ? ($"site {move.ToSite} is not served by this agent", MoveState.Failed)
                : _queue.Latest(move.Eid) is { } newer ? ($"superseded by move {newer} of the same EID", MoveState.Superseded)
                : ((string?)null, MoveState.Running);
            if (why is not null)
            {
                _journal.NotResumed(move, state, why);
                continue;
            }

            _journal.Resumed(move);
            outcomes.Add(Ended(await _saga.RunAsync(move, range!, cancellationToken).ConfigureAwait(false)));
        }

        return outcomes;
    }

    /// <summary>
    /// DR without renumbering: every EID held by <paramref name="from"/> (or <paramref name="scope"/>) re-registered at
    /// <paramref name="to"/> in bulk, each verified by a Map-Request through the Map-Resolver (the saga's old-site step).
    /// Failback is the same call with the sites swapped.
    /// </summary>
    /// <remarks>
    /// Each EID is still a move of its own in the journal and the audit history, with the same steps as a single move; only
    /// the work is shared (<see cref="BulkMoveSaga"/>): one commit for the intents, many /32s per Map-Register, the gateways
    /// converged once per range. An EID that fails a shared step goes on alone from the step it reached, with the single
    /// move's retries.
    /// </remarks>
    public async Task<FailoverReport> FailoverAsync(string from, string to, IReadOnlyCollection<IPAddress>? scope = null,
        IProgress<FailoverProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!_routers.TryGetValue(to, out var router)) throw new ArgumentException($"site '{to}' is not served by this agent", nameof(to));
        var watch = Stopwatch.StartNew();
        var eids = (scope ?? EidsAt(from)).Distinct().ToList();
        var failed = new ConcurrentBag<(IPAddress, string)>();
        var moves = new ConcurrentBag<MoveOutcome>();
        int converged = 0, failures = 0;
        void Report() => progress?.Report(new FailoverProgress(eids.Count, Volatile.Read(ref converged), Volatile.Read(ref failures)));

        var movable = new List<(IPAddress Eid, DynamicEidRange Range)>(eids.Count);
        foreach (var eid in eids)
        {
            var range = RangeOf(eid);
            if (range is not null && range.Allows(to))
            {
                movable.Add((eid, range));
                continue;
            }

            failed.Add((eid, range is null ? "outside every dynamic-EID range" : $"range '{range.Name}' may not live at {to}"));
            Interlocked.Increment(ref failures);
            Report();
        }

        // Batches in EID order: each takes its locks in that order too (MoveQueue.HoldAsync).
        movable.Sort((a, b) => string.CompareOrdinal(a.Eid.ToString(), b.Eid.ToString()));
        var options = new ParallelOptions { MaxDegreeOfParallelism = BulkMovesInFlight, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(movable.Chunk(BulkMoveSaga.BatchSize), options, async (batch, ct) =>
        {
            await _bulk.RunAsync(batch, from, to, router, "dr-failover", "operator", outcome =>
            {
                moves.Add(outcome);
                if (outcome.Converged) Interlocked.Increment(ref converged);
                else { Interlocked.Increment(ref failures); failed.Add((outcome.Eid, outcome.Error ?? "failed")); }
                Report();
            }, ct).ConfigureAwait(false);
        }).ConfigureAwait(false);

        var verified = moves.Where(m => m.Converged).Select(m => m.Eid).ToList();
        return new FailoverReport(from, to, moves.ToList(), verified, failed.ToList(), watch.Elapsed);
    }

    /// <summary>The gateway every site of the range must present (same virtual IP and MAC everywhere).</summary>
    public static GatewayIntent? GatewayIntentFor(DynamicEidRange range)
    {
        ArgumentNullException.ThrowIfNull(range);
        if (range.Options.Gateway is not { } g) return null;
        return new GatewayIntent(g.Vlan, g.Interface, IPAddress.Parse(g.VirtualIp), g.PrefixLength, g.Fhrp, g.FhrpVersion, g.Group,
            VirtualMac.For(g.Fhrp, g.FhrpVersion, g.Group), ProxyArp: range.Options.Mode == Xtr.Configuration.MobilityMode.AcrossSubnet);
    }

    // An intent decided on views that a newer move of its EID has since changed: never run after that move (it would undo it).
    private MoveOutcome Supersede(MoveRecord move, string key)
    {
        var why = $"move {_queue.Latest(key)} of {key} started after this was decided";
        _journal.Superseded(move, why);
        return Raise(new MoveOutcome(move.Id, IPAddress.Parse(key), move.Vm, move.FromSite, move.ToSite, MoveState.Superseded, [], TimeSpan.Zero, why));
    }

    // A saga's end: a converged move leaves the EID where it moved it.
    private MoveOutcome Ended(MoveOutcome outcome)
    {
        if (outcome.Converged) _owners[outcome.Eid.ToString()] = new EidOwner(outcome.ToSite, HeldAway: false);
        return Raise(outcome);
    }

    private MoveOutcome Raise(MoveOutcome outcome)
    {
        MoveFinished?.Invoke(this, outcome);
        return outcome;
    }
}
