using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;

namespace LispMobility.Mobility;

/// <summary>Progress of a DR failover: how many EIDs are done and how.</summary>
public sealed record FailoverProgress(int Total, int Converged, int Failed);

/// <summary>What a failover did, per EID, and whether the mapping system confirmed it.</summary>
public sealed record FailoverReport(string From, string To, IReadOnlyList<MoveOutcome> Moves, IReadOnlyList<IPAddress> Verified,
    IReadOnlyList<(IPAddress Eid, string Reason)> NotConverged, TimeSpan Elapsed)
{
    /// <summary>True when every EID moved and was verified.</summary>
    public bool Converged => NotConverged.Count == 0;
}

public sealed partial class MobilityCoordinator
{
    // EIDs moved by one bulk saga: their intents share a commit, their /32s Map-Registers (as many as fit a datagram).
    private const int BulkMoveSize = 512;

    // Bulk sagas in flight at once: one waits for Map-Notifies while another sends.
    private const int BulkMovesInFlight = 4;

    // Map-Requests a bulk saga has outstanding at once: bursts the Map-Resolver's and the ETR's socket buffers take without loss.
    private const int BulkResolveSize = 128;

    /// <summary>
    /// DR without renumbering: every EID held by <paramref name="from"/> (or <paramref name="scope"/>) re-registered at
    /// <paramref name="to"/> in bulk, each verified by a Map-Request through the Map-Resolver (the saga's old-site step).
    /// Failback is the same call with the sites swapped.
    /// </summary>
    /// <remarks>
    /// Each EID is still a move of its own in the journal and the audit history, with the same steps as a single move; only
    /// the work is shared: one commit for the intents, many /32s per Map-Register, the gateways converged once per range.
    /// An EID that fails a shared step goes on alone from the step it reached, with the single move's retries.
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

        // Batches in EID order: each takes its locks in that order too (HoldAsync).
        movable.Sort((a, b) => string.CompareOrdinal(a.Eid.ToString(), b.Eid.ToString()));
        var options = new ParallelOptions { MaxDegreeOfParallelism = BulkMovesInFlight, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(movable.Chunk(BulkMoveSize), options, async (batch, ct) =>
        {
            await RunBulkSagaAsync(batch, from, to, router, "dr-failover", "operator", outcome =>
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

    /// <summary>One EID inside a bulk saga: its journal record, the steps it finished, and whether it left the bulk path.</summary>
    private sealed class BulkMove(MoveRecord record, IPAddress eid, DynamicEidRange range)
    {
        public MoveRecord Record { get; } = record;
        public IPAddress Eid { get; } = eid;
        public DynamicEidRange Range { get; } = range;
        public MoveStep Reached { get; set; } = MoveStep.Journaled;
        public List<StepTiming> Timings { get; } = [];
        public string? LeftBecause { get; set; }
        public bool InBulk => LeftBecause is null;
    }

    /// <summary>The per-EID locks of many EIDs, released together on dispose.</summary>
    private sealed class HeldLocks(List<SemaphoreSlim> gates) : IDisposable
    {
        public void Dispose()
        {
            foreach (var g in gates) g.Release();
        }
    }

    // Takes the locks in one order (ordinal EID text) for every holder of many, so that two of them cannot deadlock; a
    // single move holds one lock only. Cancelled half-way, it lets go of what it took.
    private async Task<HeldLocks> HoldAsync(IEnumerable<IPAddress> eids, CancellationToken cancellationToken)
    {
        var taken = new List<SemaphoreSlim>();
        try
        {
            foreach (var key in eids.Select(e => e.ToString()).Distinct().Order(StringComparer.Ordinal))
            {
                var gate = _perEid.GetOrAdd(key, _ => new SemaphoreSlim(1));
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                taken.Add(gate);
            }

            return new HeldLocks(taken);
        }
        catch
        {
            foreach (var g in taken) g.Release();
            throw;
        }
    }

    // Holds the per-EID lock of every EID of the batch for the whole bulk saga.
    private async Task RunBulkSagaAsync(IReadOnlyList<(IPAddress Eid, DynamicEidRange Range)> batch, string from, string to, ITunnelRouter router,
        string trigger, string source, Action<MoveOutcome> finished, CancellationToken cancellationToken)
    {
        using var held = await HoldAsync(batch.Select(b => b.Eid), cancellationToken).ConfigureAwait(false);
        var total = Stopwatch.StartNew();
        var now = _time.GetUtcNow();
        var moves = batch.Select(b =>
        {
            var key = b.Eid.ToString();
            var fromSite = _owners.ContainsKey(key) ? OwnerOf(b.Eid) : from;
            return new BulkMove(new MoveRecord(Guid.NewGuid(), key, key, fromSite, to, trigger, source, MoveState.Running, MoveStep.Journaled, now, now, null), b.Eid, b.Range);
        }).ToList();
        _store.Begin(moves.Select(m => m.Record).ToList());
        foreach (var m in moves)
        {
            Started(m.Record);
            Audit(m.Record, "intent", "journaled", $"{m.Record.FromSite ?? "?"} -> {to} ({trigger} via {source}, one of {moves.Count} moved together)", null);
        }

        foreach (var group in moves.GroupBy(m => m.Range))
        {
            var members = group.ToList();
            var registrations = router.RegisterHostsAsync(members.Select(m => m.Eid).ToList(), group.Key.Name, cancellationToken);
            for (var i = 0; i < members.Count; i++)
            {
                var m = members[i];
                await StepAsync(m, MoveStep.Registered, cancellationToken, async () =>
                {
                    var r = await registrations[i].ConfigureAwait(false);
                    return ($"/32 registered at {to} with {members.Count - 1} other(s), Map-Notify after {r.Elapsed.TotalMilliseconds:0.0} ms ({r.Transmissions} transmission(s))", r.Elapsed);
                }).ConfigureAwait(false);
            }
        }

        // Moving home: the /32s are withdrawn together, so that the old-site step below has only to look.
        var homeBound = moves.Where(m => m.InBulk && m.Range.IsHome(to)).ToList();
        if (homeBound.Count > 0)
        {
            var withdrawals = router.WithdrawHostsAsync(homeBound.Select(m => m.Eid).ToList(), removeRoute: false, cancellationToken);
            for (var i = 0; i < homeBound.Count; i++)
            {
                try
                {
                    await withdrawals[i].ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    homeBound[i].LeftBecause = $"{MoveStep.OldSiteAway}: {e.Message}";
                }
            }
        }

        // The verification: a Map-Request through the Map-Resolver per EID, sent a set at a time.
        foreach (var set in moves.Where(m => m.InBulk).Chunk(BulkResolveSize))
        {
            var watch = Stopwatch.StartNew();
            IReadOnlyList<Resolution> answers;
            try
            {
                answers = await router.ResolveManyAsync(set.Select(m => m.Eid).ToList(), refresh: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                answers = set.Select(_ => new Resolution(null, e)).ToList();
            }

            var took = watch.Elapsed;
            for (var i = 0; i < set.Length; i++)
            {
                var (m, answer) = (set[i], answers[i]);
                await StepAsync(m, MoveStep.OldSiteAway, cancellationToken, async () => answer.Entry is { } entry
                    ? (await ConfirmOldSiteAwayAsync(m.Record, m.Range, router, m.Eid, entry, cancellationToken).ConfigureAwait(false), took)
                    : throw answer.Error!).ConfigureAwait(false);
            }
        }

        foreach (var group in moves.Where(m => m.InBulk).GroupBy(m => m.Range))
        {
            var watch = Stopwatch.StartNew();
            string? detail = null;
            Exception? error = null;
            try
            {
                detail = await _retry.ExecuteAsync(async ct => await ConvergeGatewaysAsync(group.First().Record, group.Key, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = e;
            }

            foreach (var m in group)
            {
                await StepAsync(m, MoveStep.GatewaysConverged, cancellationToken,
                    () => error is null ? Task.FromResult((detail!, (TimeSpan?)watch.Elapsed)) : Task.FromException<(string, TimeSpan?)>(error)).ConfigureAwait(false);
            }
        }

        foreach (var m in moves.Where(m => m.InBulk))
        {
            await StepAsync(m, MoveStep.RemoteItrsSolicited, cancellationToken,
                () => Task.FromResult(($"{router.SolicitRemoteItrs(m.Eid)} remote ITR(s) solicited", (TimeSpan?)null))).ConfigureAwait(false);
        }

        var done = moves.Where(m => m.InBulk).ToList();
        _store.Update(done.Select(m => (m.Record.Id, MoveState.Converged, MoveStep.Done, (string?)null)).ToList(), _time.GetUtcNow());
        foreach (var m in done)
        {
            _owners[m.Record.Eid] = to;
            Audit(m.Record, "move", "converged", $"{m.Record.FromSite ?? "?"} -> {to}; {StepsOf(m)}", total.Elapsed.TotalMilliseconds);
            LogConverged(m.Record.Eid, to, total.Elapsed.TotalMilliseconds);
            finished(Finished(new MoveOutcome(m.Record.Id, m.Eid, m.Record.Vm, m.Record.FromSite, to, MoveState.Converged, m.Timings, total.Elapsed, null)));
        }

        // The rest go on alone, from the step each reached, with the retries of a single move.
        var options = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelMoves, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(moves.Where(m => !m.InBulk).ToList(), options, async (m, ct) =>
        {
            Audit(m.Record, "bulk", "alone", $"continues on its own after {m.Reached}: {m.LeftBecause}" + (m.Timings.Count > 0 ? $"; done in bulk: {StepsOf(m)}" : ""), null);
            finished(await RunSagaAsync(m.Record with { Step = m.Reached }, m.Range, ct).ConfigureAwait(false));
        }).ConfigureAwait(false);
    }

    private static string StepsOf(BulkMove m) => string.Join("; ", m.Timings.Select(t => $"{t.Step} {t.Elapsed.TotalMilliseconds:0.0} ms: {t.Detail}"));

    // One step of one EID of a bulk saga, timed and announced like a single move's; a failure takes the EID out of the bulk
    // path. Its audit is the move's last row (StepsOf), one row instead of one per step: ten thousand EIDs make 40,000 rows
    // fewer. The journal keeps the EID at its intent until it ends: a crash replays it from there, steps being idempotent.
    private async Task StepAsync(BulkMove m, MoveStep step, CancellationToken cancellationToken, Func<Task<(string Detail, TimeSpan? Elapsed)>> run)
    {
        if (!m.InBulk) return;
        var watch = Stopwatch.StartNew();
        try
        {
            var (detail, elapsed) = await run().ConfigureAwait(false);
            var took = elapsed ?? watch.Elapsed;
            m.Timings.Add(new StepTiming(step, took, detail));
            m.Reached = step;
            Progress?.Invoke(this, new MoveProgress(m.Record.Id, m.Eid, m.Record.Vm, step, took, detail));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            m.LeftBecause = $"{step}: {e.Message}";
        }
    }
}
