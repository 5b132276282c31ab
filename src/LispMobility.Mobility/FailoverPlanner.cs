using System.Net;
using LispMobility.Xtr;

namespace LispMobility.Mobility;

/// <summary>An EID a failover will move, its range, and how this agent knows it is at the failed site.</summary>
public sealed record PlannedMove(IPAddress Eid, string Range, string Source);

/// <summary>
/// What a failover will do, computed once and used by both the dry run and the real run: the EIDs it moves, those it
/// leaves (with why), and the errors that refuse the request whole.
/// </summary>
public sealed record FailoverPlan(string From, string To, IReadOnlyList<PlannedMove> Moves, IReadOnlyList<(IPAddress Eid, string Reason)> Left, IReadOnlyList<string> Errors)
{
    /// <summary>Why nothing would move, or null when something will.</summary>
    public string? NothingToMove(IEnumerable<string> homeOfFrom) => Moves.Count > 0 ? null
        : $"nothing to move from {From} to {To}: this agent knows no EID at {From}" + (homeOfFrom.Any()
            ? $" (EIDs at their home site are covered by {From}'s aggregate and not listed anywhere: name them with --eid)"
            : "; name them with --eid");
}

/// <summary>Plans a DR failover or failback and checks that the failed site is really gone.</summary>
public static class FailoverPlanner
{
    /// <summary>
    /// The plan for moving EIDs from <paramref name="from"/> to <paramref name="to"/>: <paramref name="named"/> when the operator
    /// named EIDs (each must be movable, or the request is refused), else every EID this agent places at <paramref name="from"/>
    /// (journal and inventory) and those <paramref name="alsoKnown"/> (e.g. the embedded Map-Server's /32s of that site).
    /// </summary>
    public static FailoverPlan Plan(MobilityCoordinator coordinator, string from, string to, IReadOnlyCollection<IPAddress> named,
        IEnumerable<(IPAddress Eid, string Source)> alsoKnown)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(named);
        var errors = new List<string>();
        var sites = coordinator.Ranges.SelectMany(r => r.Options.Sites).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (string.IsNullOrWhiteSpace(from) || string.IsNullOrWhiteSpace(to)) errors.Add("--from and --to are both required");
        else
        {
            if (string.Equals(from, to, StringComparison.OrdinalIgnoreCase)) errors.Add($"--from and --to are the same site ({from}); name the failed site and the one that takes over");
            if (!sites.Contains(from, StringComparer.OrdinalIgnoreCase)) errors.Add($"site '{from}' is in no range's Sites ({string.Join(", ", sites)})");
            if (!coordinator.LocalSites.Contains(to, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"this agent serves {string.Join(", ", coordinator.LocalSites)}, not '{to}'; run the failover on {to}'s agent, which re-registers the EIDs there");
            }
        }

        var moves = new List<PlannedMove>();
        var left = new List<(IPAddress, string)>();
        var candidates = named.Count > 0
            ? named.Select(e => (Eid: e, Source: "operator"))
            : coordinator.EidsAt(from).Select(e => (Eid: e, Source: "journal/inventory")).Concat(alsoKnown);
        foreach (var (eid, source) in candidates.DistinctBy(c => c.Eid))
        {
            var range = coordinator.RangeOf(eid);
            var why = range is null ? "outside every dynamic-EID range" : !range.Allows(to) ? $"range '{range.Name}' may not live at {to} (its Sites: {string.Join(", ", range.Options.Sites)})" : null;
            if (why is null) moves.Add(new PlannedMove(eid, range!.Name, source));
            else if (named.Count > 0) errors.Add($"{eid}: {why}");
            else left.Add((eid, why));
        }

        moves.Sort((a, b) => string.CompareOrdinal(a.Eid.ToString(), b.Eid.ToString()));
        return new FailoverPlan(from, to, moves, left, errors);
    }

    /// <summary>
    /// Evidence that <paramref name="plan"/>'s source site still answers, or null: a Map-Request for a few of its EIDs, sent
    /// through the Map-Resolver to whichever ETR registered them, answered with a mapping to RLOCs that are not ours.
    /// A dead site's ETR does not answer (only a Map-Server set to proxy-reply would, until the registration expires).
    /// </summary>
    public static async Task<string?> SourceAnswersAsync(FailoverPlan plan, ITunnelRouter router, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(router);
        var probe = plan.Moves.Take(3).Select(m => m.Eid).ToList();
        if (probe.Count == 0) return null;
        var ours = router.Rlocs.Select(l => l.Address).ToHashSet();
        var answers = await router.ResolveManyAsync(probe, refresh: true, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < probe.Count; i++)
        {
            if (answers[i].Entry is { IsNegative: false } entry && !entry.Locators.Any(l => ours.Contains(l.Address)))
            {
                return $"a Map-Request for {probe[i]} was answered: {entry.Eid} at {string.Join(", ", entry.Locators.Select(l => l.Address))}";
            }
        }

        return null;
    }
}
