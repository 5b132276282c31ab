using System.Diagnostics;
using System.Net;
using LispMobility.Fabric;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using LispMobility.Xtr.Caching;
using Polly;
using Polly.Retry;

namespace LispMobility.Mobility;

/// <summary>
/// The steps of one move, from the step its journal record reached: register the /32 at the new site and await the
/// Map-Notify, make sure the old site is away (withdraw when moving home), converge the gateways, solicit remote ITRs —
/// each idempotent, retried with back-off (Polly), journaled and audited. The caller holds the EID.
/// </summary>
internal sealed class MoveSaga
{
    private readonly IReadOnlyDictionary<string, ITunnelRouter> _routers;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>> _gateways;
    private readonly MoveJournal _journal;
    private readonly TimeProvider _time;
    private readonly Action<MoveProgress> _progress;

    public MoveSaga(MobilityOptions options, IReadOnlyDictionary<string, ITunnelRouter> routers, IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>> gateways,
        MoveJournal journal, TimeProvider time, Action<MoveProgress> progress)
    {
        _routers = routers;
        _gateways = gateways;
        _journal = journal;
        _time = time;
        _progress = progress;
        // Polly refuses a retry strategy of zero retries: one attempt per step is a pipeline without it.
        Retry = options.StepAttempts <= 1 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder { TimeProvider = time }.AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(0, options.StepAttempts - 1), Delay = options.StepBackoff, BackoffType = DelayBackoffType.Exponential, UseJitter = true,
            // A registration undone by "another site registered it" is retried too: under loss the xTR cannot tell news that
            // crossed its registration (the Map-Server skips such a register until the news is acknowledged) from a newer claim.
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException and not ArgumentException),
        }).Build();
    }

    /// <summary>Each step's retries (a bulk saga's shared steps use it too).</summary>
    public ResiliencePipeline Retry { get; }

    // The Map-Server holds the new mapping once it acknowledged the registration, so the ITRs this site talks to may ask
    // for it now rather than after the old site's check and the gateways (a switch's API can take hundreds of ms). Best
    // effort, recorded in the step's audit detail: the last step solicits again with retries (an ITR solicited here is
    // skipped there within the SMR interval).
    private static string SolicitEarly(ITunnelRouter router, IPAddress eid)
    {
        try
        {
            return $"{router.SolicitRemoteItrs(eid)} remote ITR(s) solicited at once";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"remote ITRs not solicited yet ({e.Message})";
        }
    }

    /// <summary>Runs the steps after <see cref="MoveRecord.Step"/>: converged, or failed at a step (retryable: the cause may pass).</summary>
    public async Task<MoveOutcome> RunAsync(MoveRecord move, DynamicEidRange range, CancellationToken cancellationToken)
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
                detail = await Retry.ExecuteAsync(async ct => await run(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _progress(new MoveProgress(move.Id, eid, move.Vm, step, watch.Elapsed, e.Message, Failed: true));
                return Fail(move, eid, step, timings, total, $"{step}: {e.Message}", retryable: true);
            }

            timings.Add(new StepTiming(step, watch.Elapsed, detail));
            _journal.Step(move, step, detail, watch.Elapsed);
            _progress(new MoveProgress(move.Id, eid, move.Vm, step, watch.Elapsed, detail));
        }

        _journal.Converged([move], m => $"{m.FromSite ?? "?"} -> {m.ToSite}", total.Elapsed);
        return new MoveOutcome(move.Id, eid, move.Vm, move.FromSite, move.ToSite, MoveState.Converged, timings, total.Elapsed, null);
    }

    /// <summary>Journals and audits a move that failed at <paramref name="step"/>, and says how it ended.</summary>
    public MoveOutcome Fail(MoveRecord move, IPAddress eid, MoveStep step, List<StepTiming> timings, Stopwatch total, string error, bool retryable = false)
    {
        _journal.Failed(move, step, error, total.Elapsed);
        return new MoveOutcome(move.Id, eid, move.Vm, move.FromSite, move.ToSite, MoveState.Failed, timings, total.Elapsed, error, retryable);
    }

    // Moving home: the home aggregate serves again once the /32 is withdrawn. Elsewhere: the mapping system must
    // point at the new site, and the old site's xTR (when this agent drives it) must be away.
    private async Task<string> EnsureOldSiteAwayAsync(MoveRecord move, DynamicEidRange range, ITunnelRouter router, IPAddress eid, CancellationToken ct)
    {
        if (range.IsHome(move.ToSite)) await router.WithdrawHostAsync(eid, removeRoute: false, ct).ConfigureAwait(false);
        var entry = await router.ResolveAsync(eid, refresh: true, ct).ConfigureAwait(false);
        return await ConfirmOldSiteAwayAsync(move, range, router, eid, entry, ct, awaitHomeNews: true).ConfigureAwait(false);
    }

    /// <summary>What the Map-Resolver answered (<paramref name="entry"/>) must be the new site; the old site's xTR, when this agent drives it, must be away.</summary>
    /// <param name="awaitHomeNews">
    /// Wait for the home xTR to be away even while it has no state for the EID (a single move). The bulk failover does not:
    /// its source site is usually down, and thousands of EIDs would each wait out the deadline.
    /// </param>
    public async Task<string> ConfirmOldSiteAwayAsync(MoveRecord move, DynamicEidRange range, ITunnelRouter router, IPAddress eid, MapCacheEntry entry, CancellationToken ct,
        bool awaitHomeNews = false)
    {
        var home = range.IsHome(move.ToSite);
        var ours = router.Rlocs.Select(l => l.Address).ToHashSet();
        if (entry.Locators.Count == 0 || !entry.Locators.All(l => ours.Contains(l.Address)))
        {
            throw new InvalidOperationException($"the Map-Resolver still maps {eid} to {string.Join(", ", entry.Locators.Select(l => l.Address))} (entry {entry.Eid})");
        }

        if (move.FromSite is { } from && !string.Equals(from, move.ToSite, StringComparison.OrdinalIgnoreCase) && _routers.TryGetValue(from, out var old) && !home)
        {
            // An xTR that knows nothing of the EID (null) is away enough when it never held it, except at home: the home xTR
            // serves it through its aggregate without host state, and only the Map-Server's news makes it away. Taking null
            // there as away let the saga end before that news arrived; it then reached the home xTR during the next move of
            // the EID (back home) and undid that move's registration ("registered by another site"), which the step's
            // retry redid after its back-off (the home moves' p99 of 80-200 ms in mobility-converge, docs/benchmarks.md).
            var fromHome = awaitHomeNews && range.IsHome(from);
            var deadline = _time.GetUtcNow() + TimeSpan.FromSeconds(10);
            while (old.HostOf(eid)?.State is not HostState.Away && (fromHome || old.HostOf(eid)?.State is not null))
            {
                if (_time.GetUtcNow() > deadline) throw new InvalidOperationException($"site {from} did not go away for {eid} (state {old.HostOf(eid)?.State})");
                await Task.Delay(TimeSpan.FromMilliseconds(5), _time, ct).ConfigureAwait(false);
            }
        }

        return home
            ? $"moved home: /32 withdrawn, {entry.Eid} at {move.ToSite} serves it"
            : $"mapping system points {eid} at {move.ToSite} ({entry.Eid}); {move.FromSite ?? "previous site"} away";
    }

    /// <summary>Plans, applies and verifies the range's gateway on every driver of the move's site.</summary>
    public async Task<string> ConvergeGatewaysAsync(MoveRecord move, DynamicEidRange range, CancellationToken ct)
    {
        if (range.Options.Gateway is not { } g || !_gateways.TryGetValue(move.ToSite, out var drivers) || drivers.Count == 0)
        {
            return range.Options.Gateway is null ? "no gateway configured for the range" : $"no gateway driver at {move.ToSite}";
        }

        var intent = MobilityCoordinator.GatewayIntentFor(range)!;
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
}
