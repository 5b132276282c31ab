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
    /// Evidence that <paramref name="plan"/>'s source site still answers, or null: an RLOC probe (Map-Request with P, straight
    /// to the locator's control port) to each of the site's RLOCs, answered by one of them. The RLOCs are those
    /// <paramref name="knownRlocs"/> names (the embedded Map-Server's registrations of the site, each with an EID of it), else
    /// those the mapping system returns for a few of the planned EIDs. Only the site's own xTRs are asked whether they are up:
    /// the mapping system holds a dead site's registrations until their TTL runs out (and a proxy-replying Map-Server answers
    /// for them until then), so its word would keep a failover refused for minutes after the site died.
    /// </summary>
    /// <remarks>A locator gets up to <paramref name="attempts"/> probes, each waited for <paramref name="timeout"/>: one lost datagram does not declare a live site dead.</remarks>
    public static async Task<string?> SourceAnswersAsync(FailoverPlan plan, ITunnelRouter router, IEnumerable<(IPAddress Rloc, IPAddress Eid)> knownRlocs,
        TimeSpan timeout, int attempts = 3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(router);
        ArgumentNullException.ThrowIfNull(knownRlocs);
        var ours = router.Rlocs.Where(l => l.Address.IsIp).Select(l => l.Address.ToIPAddress()).ToHashSet();
        var targets = knownRlocs.Where(t => !ours.Contains(t.Rloc)).DistinctBy(t => t.Rloc).ToList();
        if (targets.Count == 0) targets = await RlocsFromMappingSystemAsync(plan, router, ours, cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; attempt < attempts && targets.Count > 0; attempt++)
        {
            var rtts = await Task.WhenAll(targets.Select(t => router.ProbeRlocAsync(t.Rloc, t.Eid, timeout, cancellationToken))).ConfigureAwait(false);
            for (var i = 0; i < targets.Count; i++)
            {
                if (rtts[i] is { } rtt) return $"its RLOC {targets[i].Rloc} answered an RLOC probe in {rtt.TotalMilliseconds:0.#} ms";
            }
        }

        return null;
    }

    // Without a Map-Server of our own: the locators the Map-Resolver gives for a few planned EIDs. A dead site's ETR leaves
    // these Map-Requests unanswered (no locators, nothing to probe) unless its Map-Server proxy-replies.
    private static async Task<List<(IPAddress Rloc, IPAddress Eid)>> RlocsFromMappingSystemAsync(FailoverPlan plan, ITunnelRouter router, HashSet<IPAddress> ours,
        CancellationToken cancellationToken)
    {
        var asked = plan.Moves.Take(3).Select(m => m.Eid).ToList();
        if (asked.Count == 0) return [];
        var answers = await router.ResolveManyAsync(asked, refresh: true, cancellationToken).ConfigureAwait(false);
        return answers.Select((a, i) => (a.Entry, Eid: asked[i]))
            .Where(a => a.Entry is { IsNegative: false })
            .SelectMany(a => a.Entry!.Locators.Select(l => l.Address).Where(r => r.IsIp).Select(r => (Rloc: r.ToIPAddress(), a.Eid)))
            .Where(t => !ours.Contains(t.Rloc)).DistinctBy(t => t.Rloc).ToList();
    }
}
