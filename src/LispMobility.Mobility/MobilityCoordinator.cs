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
using Polly;
using Polly.Retry;

namespace LispMobility.Mobility;

/// <summary>
/// The one place that changes the network when a workload moves: one saga per move — journal the intent,
/// register the /32 at the new site and await the Map-Notify, make sure the old site is away (withdraw
/// when moving home), converge the gateways, solicit remote ITRs — each step idempotent, retried with
/// back-off, journaled and audited. Moves of one EID run one at a time; moves of different EIDs in parallel.
/// </summary>
public sealed partial class MobilityCoordinator
{
    private readonly MobilityOptions _options;
    private readonly IReadOnlyDictionary<string, ITunnelRouter> _routers;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>> _gateways;
    private readonly MobilityStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DynamicEidRange[] _ranges;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _perEid = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _owners;
    private readonly ConcurrentDictionary<string, Guid> _started = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _moving = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _parallel;
    private readonly ResiliencePipeline _retry;

    /// <summary>Builds the coordinator over the xTRs of the sites this agent serves.</summary>
    public MobilityCoordinator(MobilityOptions options, IReadOnlyDictionary<string, ITunnelRouter> routers, MobilityStore store,
        IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>>? gateways = null, TimeProvider? time = null, ILogger<MobilityCoordinator>? logger = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _routers = routers ?? throw new ArgumentNullException(nameof(routers));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _gateways = gateways ?? new Dictionary<string, IReadOnlyList<IGatewayDriver>>();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<MobilityCoordinator>.Instance;
        _ranges = options.Ranges.Select(r => new DynamicEidRange(r, EidPrefix.Parse(r.Prefix))).ToArray();
        _owners = new ConcurrentDictionary<string, string>(store.Owners(), StringComparer.Ordinal);
        _parallel = new SemaphoreSlim(options.MaxParallelMoves);
        // Polly refuses a retry strategy of zero retries: one attempt per step is a pipeline without it.
        _retry = options.StepAttempts <= 1 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder { TimeProvider = _time }.AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(0, options.StepAttempts - 1), Delay = options.StepBackoff, BackoffType = DelayBackoffType.Exponential, UseJitter = true,
            // A registration undone by "another site registered it" is retried too: under loss the xTR cannot tell news that
            // crossed its registration (the Map-Server skips such a register until the news is acknowledged) from a newer claim.
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException and not ArgumentException),
        }).Build();
    }

    /// <summary>Each step of each move as it finishes (raised on the saga's thread).</summary>
    public event EventHandler<MoveProgress>? Progress;

    /// <summary>Every move's end, converged or failed, whatever started it (detector, failover, resume).</summary>
    public event EventHandler<MoveOutcome>? MoveFinished;

    /// <summary>The configured ranges.</summary>
    public IReadOnlyList<DynamicEidRange> Ranges => _ranges;

    /// <summary>The sites whose xTR this agent drives.</summary>
    public IReadOnlyCollection<string> LocalSites => _routers.Keys.ToList();

    /// <summary>This agent's xTR at <paramref name="site"/>, or null.</summary>
    public ITunnelRouter? RouterAt(string site) => _routers.GetValueOrDefault(site);

    /// <summary>True while a move of <paramref name="eid"/> runs or waits behind another one.</summary>
    public bool IsMoving(IPAddress eid) => _moving.GetValueOrDefault(eid.ToString()) > 0;

    /// <summary>The id of the last move of <paramref name="eid"/> started since this agent started, or null.</summary>
    public Guid? LatestMoveOf(IPAddress eid) => _started.TryGetValue(eid.ToString(), out var id) ? id : null;

    /// <summary>The store (journal and audit).</summary>
    public MobilityStore Store => _store;

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
        var site = _owners.TryGetValue(eid.ToString(), out var recorded) ? recorded : range?.Options.HomeSite;
        if (site is null || IsAwayAt(site, eid)) return null;

        // Away from home an EID lives only by its /32: when this agent's xTR there holds none (it went away and the /32 has
        // since been withdrawn everywhere), the recorded owner is stale too.
        return range is not null && !range.IsHome(site) && _routers.TryGetValue(site, out var router) && router.StateOf(eid) is null ? null : site;
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
        var unfinished = _store.Unfinished().Select(m => m.Eid).ToHashSet(StringComparer.Ordinal);
        var registered = 0;
        var skipped = new List<(IPAddress, string)>();
        foreach (var (site, router) in _routers)
        {
            var held = _owners.Where(o => string.Equals(o.Value, site, StringComparison.OrdinalIgnoreCase) && !unfinished.Contains(o.Key))
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
            using var locks = await HoldAsync(still.Select(e => e.Eid), cancellationToken).ConfigureAwait(false);
            foreach (var group in still.Where(e => string.Equals(_owners.GetValueOrDefault(e.Eid.ToString()), site, StringComparison.OrdinalIgnoreCase)).GroupBy(e => e.Range))
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

        foreach (var (eid, reason) in skipped) LogNotRestored(eid.ToString(), reason);
        return (registered, skipped);
    }

    /// <summary>
    /// Whether this agent's xTR at <paramref name="site"/> was told (Map-Notify) that another site holds <paramref name="eid"/>:
    /// a move run by another site's agent reaches this one only that way, so the owner recorded here is then stale.
    /// </summary>
    public bool IsAwayAt(string site, IPAddress eid) => _routers.TryGetValue(site, out var router) && router.StateOf(eid) is HostState.Away;

    /// <summary>Every EID whose owner is <paramref name="site"/> as far as this agent knows.</summary>
    public IReadOnlyList<IPAddress> EidsAt(string site) =>
        _owners.Where(o => string.Equals(o.Value, site, StringComparison.OrdinalIgnoreCase)).Select(o => IPAddress.Parse(o.Key)).ToList();

    /// <summary>Records that an EID lives at a site without moving it (inventory at start).</summary>
    public void Adopt(IPAddress eid, string site) => _owners.TryAdd(eid.ToString(), site);

    /// <summary>Runs one move saga to its end: converged, or failed with the reason. Never half-done silently.</summary>
    public async Task<MoveOutcome> MoveAsync(MoveIntent intent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var range = RangeOf(intent.Eid) ?? throw new ArgumentException($"{intent.Eid} is in no dynamic-EID range", nameof(intent));
        if (!range.Allows(intent.ToSite)) throw new ArgumentException($"range '{range.Name}' may not live at site '{intent.ToSite}'", nameof(intent));
        var key = intent.Eid.ToString();
        var gate = _perEid.GetOrAdd(key, _ => new SemaphoreSlim(1));
        _moving.AddOrUpdate(key, 1, (_, n) => n + 1);
        try
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _moving.AddOrUpdate(key, 0, (_, n) => n - 1);
            throw;
        }

        try
        {
            await _parallel.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Where the EID is comes from the moves this coordinator finished, read only now that the previous move of
                // this EID is over: an owner read when the intent was made is stale for a move that queued behind another.
                var from = _owners.ContainsKey(key) ? OwnerOf(intent.Eid) : intent.FromSite ?? OwnerOf(intent.Eid);
                var now = _time.GetUtcNow();
                var record = new MoveRecord(Guid.NewGuid(), key, intent.Vm, from, intent.ToSite, intent.Trigger, intent.Source,
                    MoveState.Running, MoveStep.Journaled, now, now, null);
                _store.Begin(record);
                _started[key] = record.Id;
                Audit(record, "intent", "journaled", $"{record.FromSite ?? "?"} -> {record.ToSite} ({record.Trigger} via {record.Source})", null);
                return await RunSagaAsync(record, range, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _parallel.Release();
            }
        }
        finally
        {
            _moving.AddOrUpdate(key, 0, (_, n) => n - 1);
            gate.Release();
        }
    }

    /// <summary>
    /// Withdraws the /32 that this agent's xTR at <paramref name="site"/> still registers for an EID the watchers say left it
    /// (to <paramref name="toSite"/>, or gone): journaled and audited like a move, so that a VM that is gone is not attracted here.
    /// </summary>
    public async Task<MoveOutcome> ReleaseAsync(IPAddress eid, string vm, string site, string? toSite, string trigger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eid);
        var router = _routers.GetValueOrDefault(site) ?? throw new ArgumentException($"site {site} is not served by this agent", nameof(site));
        var key = eid.ToString();
        var gate = _perEid.GetOrAdd(key, _ => new SemaphoreSlim(1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var total = Stopwatch.StartNew();
            var now = _time.GetUtcNow();
            var move = new MoveRecord(Guid.NewGuid(), key, vm, site, toSite ?? "gone", trigger, "reconciler", MoveState.Running, MoveStep.Journaled, now, now, null);
            _store.Begin(move);
            _started[key] = move.Id;
            Audit(move, "intent", "journaled", $"release: {site} registers {key}, which the watchers place {(toSite is null ? "nowhere" : "at " + toSite)}", null);
            try
            {
                await _retry.ExecuteAsync(async ct => await router.WithdrawHostAsync(eid, removeRoute: true, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return Fail(move, eid, MoveStep.OldSiteAway, [], total, $"{MoveStep.OldSiteAway}: {e.Message}");
            }

            var detail = $"/32 withdrawn at {site}";
            var timings = new List<StepTiming> { new(MoveStep.OldSiteAway, total.Elapsed, detail) };
            _store.Update(move.Id, MoveState.Converged, MoveStep.Done, _time.GetUtcNow());
            if (toSite is null) _owners.TryRemove(key, out _);
            else _owners[key] = toSite;
            Audit(move, "move", "converged", detail, total.Elapsed.TotalMilliseconds);
            LogConverged(key, move.ToSite, total.Elapsed.TotalMilliseconds);
            return Finished(new MoveOutcome(move.Id, eid, vm, site, move.ToSite, MoveState.Converged, timings, total.Elapsed, null));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Finishes the moves a crash left unfinished, from the step each had reached (every step is idempotent). Runs alongside
    /// the detector: each resumed move holds its EID like any move, and one overtaken by a newer move of the same EID is
    /// closed as superseded instead of moving the EID back.
    /// </summary>
    public async Task<IReadOnlyList<MoveOutcome>> ResumeAsync(CancellationToken cancellationToken = default)
    {
        var outcomes = new List<MoveOutcome>();
        foreach (var move in _store.Unfinished())
        {
            var gate = _perEid.GetOrAdd(move.Eid, _ => new SemaphoreSlim(1));
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var range = RangeOf(IPAddress.Parse(move.Eid));
                var (why, state) = range is null ? ("the EID is no longer in a configured range", MoveState.Failed)
                    : !_routers.ContainsKey(move.ToSite) ? ($"site {move.ToSite} is not served by this agent", MoveState.Failed)
                    : _started.TryGetValue(move.Eid, out var newer) ? ($"superseded by move {newer} of the same EID", MoveState.Superseded)
                    : ((string?)null, MoveState.Running);
                if (why is not null)
                {
                    _store.Update(move.Id, state, move.Step, _time.GetUtcNow(), "not resumed: " + why);
                    Audit(move, "resume", state == MoveState.Superseded ? "superseded" : "failed", why, null);
                    continue;
                }

                Audit(move, "resume", "resumed", $"from step {move.Step}", null);
                LogResuming(move.Eid, move.Step.ToString());
                outcomes.Add(await RunSagaAsync(move, range!, cancellationToken).ConfigureAwait(false));
            }
            finally
            {
                gate.Release();
            }
        }

        return outcomes;
    }

    private async Task<MoveOutcome> RunSagaAsync(MoveRecord move, DynamicEidRange range, CancellationToken cancellationToken)
    {
        var eid = IPAddress.Parse(move.Eid);
        var total = Stopwatch.StartNew();
        var timings = new List<StepTiming>();
        if (!_routers.TryGetValue(move.ToSite, out var router))
        {
            return Fail(move, eid, move.Step, timings, total, $"site {move.ToSite} is not served by this agent (no local xTR)");
        }

        var steps = new (MoveStep Step, Func<CancellationToken, Task<string>> Run)[]
        {
            (MoveStep.Registered, async ct =>
            {
                var r = await router.RegisterHostAsync(eid, range.Name, ct).ConfigureAwait(false);
                return $"/32 registered at {move.ToSite}, Map-Notify after {r.Elapsed.TotalMilliseconds:0.0} ms ({r.Transmissions} transmission(s)); {SolicitEarly(router, eid)}";
            }),
            (MoveStep.OldSiteAway, ct => EnsureOldSiteAwayAsync(move, range, router, eid, ct)),
            (MoveStep.GatewaysConverged, ct => ConvergeGatewaysAsync(move, range, ct)),
            (MoveStep.RemoteItrsSolicited, ct => Task.FromResult($"{router.SolicitRemoteItrs(eid)} remote ITR(s) solicited")),
        };

        foreach (var (step, run) in steps)
        {
            if (step <= move.Step) continue;
            var watch = Stopwatch.StartNew();
            string detail;
            try
            {
                detail = await _retry.ExecuteAsync(async ct => await run(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Progress?.Invoke(this, new MoveProgress(move.Id, eid, move.Vm, step, watch.Elapsed, e.Message, Failed: true));
                return Fail(move, eid, step, timings, total, $"{step}: {e.Message}", retryable: true);
            }

            timings.Add(new StepTiming(step, watch.Elapsed, detail));
            _store.Update(move.Id, MoveState.Running, step, _time.GetUtcNow());
            Audit(move, step.ToString(), "ok", detail, watch.Elapsed.TotalMilliseconds);
            Progress?.Invoke(this, new MoveProgress(move.Id, eid, move.Vm, step, watch.Elapsed, detail));
        }

        _store.Update(move.Id, MoveState.Converged, MoveStep.Done, _time.GetUtcNow());
        _owners[move.Eid] = move.ToSite;
        Audit(move, "move", "converged", $"{move.FromSite ?? "?"} -> {move.ToSite}", total.Elapsed.TotalMilliseconds);
        LogConverged(move.Eid, move.ToSite, total.Elapsed.TotalMilliseconds);
        return Finished(new MoveOutcome(move.Id, eid, move.Vm, move.FromSite, move.ToSite, MoveState.Converged, timings, total.Elapsed, null));
    }

    // The Map-Server holds the new mapping once it acknowledged the registration, so the ITRs this site talks to may ask
    // for it now rather than after the old site's check and the gateways (a switch's API can take hundreds of ms). Best
    // effort: the last step solicits again with retries (an ITR solicited here is skipped there, SmrInterval).
    private string SolicitEarly(ITunnelRouter router, IPAddress eid)
    {
        try
        {
            return $"{router.SolicitRemoteItrs(eid)} remote ITR(s) solicited at once";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogEarlySolicitFailed(eid.ToString(), e.Message);
            return "remote ITRs not solicited yet";
        }
    }

    private MoveOutcome Finished(MoveOutcome outcome)
    {
        MoveFinished?.Invoke(this, outcome);
        return outcome;
    }

    private MoveOutcome Fail(MoveRecord move, IPAddress eid, MoveStep step, List<StepTiming> timings, Stopwatch total, string error, bool retryable = false)
    {
        _store.Update(move.Id, MoveState.Failed, step, _time.GetUtcNow(), error);
        Audit(move, "move", "failed", error, total.Elapsed.TotalMilliseconds);
        LogFailed(move.Eid, move.ToSite, error);
        return Finished(new MoveOutcome(move.Id, eid, move.Vm, move.FromSite, move.ToSite, MoveState.Failed, timings, total.Elapsed, error, retryable));
    }

    // Moving home: the home aggregate serves again once the /32 is withdrawn. Elsewhere: the mapping system must
    // point at the new site, and the old site's xTR (when this agent drives it) must be away.
    private async Task<string> EnsureOldSiteAwayAsync(MoveRecord move, DynamicEidRange range, ITunnelRouter router, IPAddress eid, CancellationToken ct)
    {
        if (range.IsHome(move.ToSite)) await router.WithdrawHostAsync(eid, removeRoute: false, ct).ConfigureAwait(false);
        var entry = await router.ResolveAsync(eid, refresh: true, ct).ConfigureAwait(false);
        return await ConfirmOldSiteAwayAsync(move, range, router, eid, entry, ct).ConfigureAwait(false);
    }

    // What the Map-Resolver answered (entry) must be the new site; the old site's xTR, when this agent drives it, must be away.
    private async Task<string> ConfirmOldSiteAwayAsync(MoveRecord move, DynamicEidRange range, ITunnelRouter router, IPAddress eid, MapCacheEntry entry, CancellationToken ct)
    {
        var home = range.IsHome(move.ToSite);
        var ours = router.Rlocs.Select(l => l.Address).ToHashSet();
        if (entry.Locators.Count == 0 || !entry.Locators.All(l => ours.Contains(l.Address)))
        {
            throw new InvalidOperationException($"the Map-Resolver still maps {eid} to {string.Join(", ", entry.Locators.Select(l => l.Address))} (entry {entry.Eid})");
        }

        if (move.FromSite is { } from && !string.Equals(from, move.ToSite, StringComparison.OrdinalIgnoreCase) && _routers.TryGetValue(from, out var old) && !home)
        {
            var deadline = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
            while (old.StateOf(eid) is not HostState.Away && old.StateOf(eid) is not null)
            {
                if (_time.GetUtcNow() > deadline) throw new InvalidOperationException($"site {from} did not go away for {eid} (state {old.StateOf(eid)})");
                await Task.Delay(TimeSpan.FromMilliseconds(5), _time, ct).ConfigureAwait(false);
            }
        }

        return home
            ? $"moved home: /32 withdrawn, {entry.Eid} at {move.ToSite} serves it"
            : $"mapping system points {eid} at {move.ToSite} ({entry.Eid}); {move.FromSite ?? "previous site"} away";
    }

    private async Task<string> ConvergeGatewaysAsync(MoveRecord move, DynamicEidRange range, CancellationToken ct)
    {
        if (range.Options.Gateway is not { } g || !_gateways.TryGetValue(move.ToSite, out var drivers) || drivers.Count == 0)
        {
            return range.Options.Gateway is null ? "no gateway configured for the range" : $"no gateway driver at {move.ToSite}";
        }

        var intent = GatewayIntentFor(range)!;
        var changes = 0;
        foreach (var driver in drivers)
        {
            var plan = await driver.PlanAsync(intent, ct).ConfigureAwait(false);
            if (!plan.IsEmpty) await driver.ApplyAsync(plan, ct).ConfigureAwait(false);
            changes += plan.Changes.Count;
            var verification = await driver.VerifyAsync(intent, ct).ConfigureAwait(false);
            if (!verification.Converged) throw new InvalidOperationException($"{driver.Name}: {string.Join("; ", verification.Differences)}");
        }

        return $"gateway {g.VirtualIp} / {VirtualMac.ToCiscoNotation(intent.VirtualMac)} on {drivers.Count} device(s), {changes} change(s)";
    }

    /// <summary>The gateway every site of the range must present (same virtual IP and MAC everywhere).</summary>
    public static GatewayIntent? GatewayIntentFor(DynamicEidRange range)
    {
        ArgumentNullException.ThrowIfNull(range);
        if (range.Options.Gateway is not { } g) return null;
        return new GatewayIntent(g.Vlan, g.Interface, IPAddress.Parse(g.VirtualIp), g.PrefixLength, g.Fhrp, g.FhrpVersion, g.Group,
            VirtualMac.For(g.Fhrp, g.FhrpVersion, g.Group), ProxyArp: range.Options.Mode == Xtr.Configuration.MobilityMode.AcrossSubnet);
    }

    private void Audit(MoveRecord move, string kind, string outcome, string? detail, double? ms) =>
        _store.Audit(new AuditEntry(0, _time.GetUtcNow(), move.Id, move.Eid, move.Vm, move.FromSite, move.ToSite, kind, move.Trigger, move.Source, outcome, detail, ms));

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Move of {Eid} to {Site} converged in {Milliseconds:0.0} ms")]
    private partial void LogConverged(string eid, string site, double milliseconds);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Move of {Eid} to {Site} failed: {Error}")]
    private partial void LogFailed(string eid, string site, string error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "The /32 of {Eid}, held here as the journal says, was not registered again at start: {Reason}")]
    private partial void LogNotRestored(string eid, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Debug, Message = "Soliciting the remote ITRs of {Eid} right after its registration failed ({Error}); the move's last step tries again")]
    private partial void LogEarlySolicitFailed(string eid, string error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Resuming the move of {Eid} from step {Step}")]
    private partial void LogResuming(string eid, string step);
}
