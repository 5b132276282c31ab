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

/// <summary>
/// One batch of a DR failover moved as one saga: the intents share a commit, the /32s Map-Registers (as many as fit a
/// datagram), the verifications a window of Map-Requests, the gateways one convergence per range. Each EID is still a move of
/// its own in the journal and the audit history; one that fails a shared step goes on alone from the step it reached, with
/// the single move's retries.
/// </summary>
/// <param name="fromSiteOf">Where the coordinator has the EID now, or the failover's old site when it has no owner of its own.</param>
/// <param name="ended">The coordinator's end of a move (owner, event); returns the outcome.</param>
internal sealed class BulkMoveSaga(MoveQueue queue, MoveJournal journal, MoveSaga saga, int maxParallelMoves, Func<IPAddress, string, string?> fromSiteOf,
    Func<MoveOutcome, MoveOutcome> ended, Action<MoveProgress> progress)
{
    /// <summary>EIDs moved by one bulk saga.</summary>
    public const int BatchSize = 512;

    // Map-Requests a bulk saga has outstanding at once: bursts the Map-Resolver's and the ETR's socket buffers take without loss.
    private const int ResolveSize = 128;

    /// <summary>Moves the batch to <paramref name="to"/>, holding the lock of every EID of it throughout; each EID's end goes to <paramref name="finished"/>.</summary>
    public async Task RunAsync(IReadOnlyList<(IPAddress Eid, DynamicEidRange Range)> batch, string from, string to, ITunnelRouter router,
        string trigger, string source, Action<MoveOutcome> finished, CancellationToken cancellationToken)
    {
        using var held = await queue.HoldAsync(batch.Select(b => b.Eid), cancellationToken).ConfigureAwait(false);
        var total = Stopwatch.StartNew();
        var now = journal.Now;
        var moves = batch.Select(b => new BulkMove(new MoveRecord(Guid.NewGuid(), b.Eid.ToString(), b.Eid.ToString(), fromSiteOf(b.Eid, from), to, trigger, source,
            MoveState.Running, MoveStep.Journaled, now, now, null), b.Eid, b.Range)).ToList();
        journal.Begin(moves.Select(m => m.Record).ToList(), r => $"{r.FromSite ?? "?"} -> {to} ({trigger} via {source}, one of {moves.Count} moved together)");
        foreach (var m in moves) queue.Start(m.Record);

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
        foreach (var set in moves.Where(m => m.InBulk).Chunk(ResolveSize))
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
                    ? (await saga.ConfirmOldSiteAwayAsync(m.Record, m.Range, router, m.Eid, entry, cancellationToken).ConfigureAwait(false), took)
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
                detail = await saga.Retry.ExecuteAsync(async ct => await saga.ConvergeGatewaysAsync(group.First().Record, group.Key, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
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
        var steps = done.ToDictionary(m => m.Record.Id, StepsOf);
        journal.Converged(done.Select(m => m.Record).ToList(), r => $"{r.FromSite ?? "?"} -> {to}; {steps[r.Id]}", total.Elapsed);
        foreach (var m in done)
        {
            finished(ended(new MoveOutcome(m.Record.Id, m.Eid, m.Record.Vm, m.Record.FromSite, to, MoveState.Converged, m.Timings, total.Elapsed, null)));
        }

        // The rest go on alone, from the step each reached, with the retries of a single move.
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxParallelMoves, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(moves.Where(m => !m.InBulk).ToList(), options, async (m, ct) =>
        {
            journal.Audit(m.Record, "bulk", "alone", $"continues on its own after {m.Reached}: {m.LeftBecause}" + (m.Timings.Count > 0 ? $"; done in bulk: {StepsOf(m)}" : ""), null);
            finished(ended(await saga.RunAsync(m.Record with { Step = m.Reached }, m.Range, ct).ConfigureAwait(false)));
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
            progress(new MoveProgress(m.Record.Id, m.Eid, m.Record.Vm, step, took, detail));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            m.LeftBecause = $"{step}: {e.Message}";
        }
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
}
