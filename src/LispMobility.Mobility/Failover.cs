using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
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
    /// <summary>
    /// DR without renumbering: every EID held by <paramref name="from"/> (or <paramref name="scope"/>) re-registered at
    /// <paramref name="to"/> with bounded parallelism, each verified by a Map-Request through the Map-Resolver.
    /// Failback is the same call with the sites swapped.
    /// </summary>
    public async Task<FailoverReport> FailoverAsync(string from, string to, IReadOnlyCollection<IPAddress>? scope = null,
        IProgress<FailoverProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!_routers.TryGetValue(to, out var router)) throw new ArgumentException($"site '{to}' is not served by this agent", nameof(to));
        var eids = (scope ?? EidsAt(from)).Distinct().ToList();
        var watch = Stopwatch.StartNew();
        var moves = new ConcurrentBag<MoveOutcome>();
        var failed = new ConcurrentBag<(IPAddress, string)>();
        int converged = 0, failures = 0;
        await Parallel.ForEachAsync(eids, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelMoves, CancellationToken = cancellationToken }, async (eid, ct) =>
        {
            var range = RangeOf(eid);
            if (range is null || !range.Allows(to))
            {
                failed.Add((eid, range is null ? "outside every dynamic-EID range" : $"range '{range.Name}' may not live at {to}"));
                Interlocked.Increment(ref failures);
            }
            else
            {
                var outcome = await MoveAsync(new MoveIntent(eid, eid.ToString(), from, to, "dr-failover", "operator"), ct).ConfigureAwait(false);
                moves.Add(outcome);
                if (outcome.Converged) Interlocked.Increment(ref converged);
                else { Interlocked.Increment(ref failures); failed.Add((eid, outcome.Error ?? "failed")); }
            }

            progress?.Report(new FailoverProgress(eids.Count, Volatile.Read(ref converged), Volatile.Read(ref failures)));
        }).ConfigureAwait(false);

        var verified = new ConcurrentBag<IPAddress>();
        var ours = router.Rlocs.Select(l => l.Address).ToHashSet();
        await Parallel.ForEachAsync(moves.Where(m => m.Converged), new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelMoves, CancellationToken = cancellationToken }, async (m, ct) =>
        {
            try
            {
                var entry = await router.ResolveAsync(m.Eid, refresh: true, ct).ConfigureAwait(false);
                if (entry.Locators.Count > 0 && entry.Locators.All(l => ours.Contains(l.Address))) verified.Add(m.Eid);
                else failed.Add((m.Eid, $"lookup maps it to {string.Join(", ", entry.Locators.Select(l => l.Address))}"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed.Add((m.Eid, "lookup failed: " + e.Message));
            }
        }).ConfigureAwait(false);

        return new FailoverReport(from, to, moves.ToList(), verified.ToList(), failed.ToList(), watch.Elapsed);
    }
}
