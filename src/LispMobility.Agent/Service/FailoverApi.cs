using System.Collections.Concurrent;
using System.Net;
using LispMobility.Mobility;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LispMobility.Agent.Service;

/// <summary>
/// <c>POST /api/failover</c> and <c>GET /api/failover/{id}</c>: one plan (<see cref="FailoverPlanner"/>) for the dry run and
/// the real run, refused the same way in both — an invalid request (400), nothing to move or a source site that still
/// answers without <c>force</c> (409).
/// </summary>
internal static class FailoverApi
{
    private static readonly ConcurrentDictionary<string, FailoverJob> Jobs = new(StringComparer.Ordinal);

    // A live xTR answers a probe within a round trip; three of these are what a failover of a dead site waits, not a registration TTL.
    private static readonly TimeSpan SourceProbeTimeout = TimeSpan.FromMilliseconds(500);

    public static void Map(RouteGroupBuilder api, MobilityAgent agent)
    {
        api.MapPost("/failover", async (FailoverRequest request, CancellationToken ct) =>
        {
            var named = new List<IPAddress>();
            foreach (var text in request.Eids ?? [])
            {
                if (!IPAddress.TryParse(text, out var a)) return Results.Problem($"'{text}' is not an IP address", statusCode: StatusCodes.Status400BadRequest);
                named.Add(a);
            }

            var plan = PlanFor(agent, request.From ?? "", request.To ?? "", named);
            if (plan.Errors.Count > 0) return Results.Problem(string.Join("; ", plan.Errors), statusCode: StatusCodes.Status400BadRequest);
            var homeOf = agent.Coordinator.Ranges.Where(r => r.IsHome(plan.From)).Select(r => r.Name);
            if (plan.NothingToMove(homeOf) is { } nothing) return Results.Problem(nothing, statusCode: StatusCodes.Status409Conflict);
            if (!request.Force && await SourceAliveAsync(agent, plan, ct).ConfigureAwait(false) is { } evidence)
            {
                return Results.Problem($"{plan.From} still answers ({evidence}); a failover now would take its EIDs from a live site. " +
                                       "Check the site, or add --force to fail over anyway", statusCode: StatusCodes.Status409Conflict);
            }

            if (request.DryRun) return Results.Json(PlanJson(plan, request.Force));
            var job = new FailoverJob(plan);
            Jobs[job.Id] = job;
            // The failover outlives the request: the CLI follows it through GET /api/failover/{id}.
            _ = Task.Run(async () =>
            {
                try
                {
                    job.Report = await agent.Coordinator.FailoverAsync(plan.From, plan.To, plan.Moves.Select(m => m.Eid).ToList(),
                        new Progress<FailoverProgress>(p => job.Progress = p)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    job.Error = e.Message;
                }
            }, CancellationToken.None);
            return Results.Accepted($"/api/failover/{job.Id}", job.ToJson());
        });

        api.MapGet("/failover/{id}", (string id) => Jobs.TryGetValue(id, out var job)
            ? Results.Json(job.ToJson())
            : Results.Problem($"no failover {id}", statusCode: StatusCodes.Status404NotFound));
    }

    private static object PlanJson(FailoverPlan plan, bool force) => new
    {
        from = plan.From, to = plan.To, dryRun = true, force,
        moves = plan.Moves.Select(m => new { eid = m.Eid.ToString(), range = m.Range, source = m.Source }),
        left = plan.Left.Select(l => new { eid = l.Eid.ToString(), reason = l.Reason }),
    };

    /// <summary>The plan of a failover from <paramref name="from"/> to <paramref name="to"/> as the real run computes it; the scheduled drill uses it too.</summary>
    internal static FailoverPlan PlanFor(MobilityAgent agent, string from, string to, IReadOnlyCollection<IPAddress> named) =>
        FailoverPlanner.Plan(agent.Coordinator, from, to, named, RegisteredAt(agent, from));

    private static IEnumerable<(IPAddress, string)> RegisteredAt(MobilityAgent agent, string site) =>
        agent.MapServer?.ListRegistrations().Where(r => string.Equals(r.Site, site, StringComparison.OrdinalIgnoreCase) && r.Eid.IsHost)
            .Select(r => (r.Eid.Address.ToIPAddress(), "mapping system")) ?? [];

    /// <summary>Evidence that the source site is alive: one of its RLOCs (from the embedded Map-Server's registrations, else the mapping system) answers an RLOC probe.</summary>
    private static Task<string?> SourceAliveAsync(MobilityAgent agent, FailoverPlan plan, CancellationToken ct)
    {
        IEnumerable<(IPAddress, IPAddress)> known = agent.MapServer?.ListRegistrations().Where(r => string.Equals(r.Site, plan.From, StringComparison.OrdinalIgnoreCase))
            .SelectMany(r => r.Rlocs.Where(l => l.Address.IsIp).Select(l => (l.Address.ToIPAddress(), r.Eid.Address.ToIPAddress()))) ?? [];
        return FailoverPlanner.SourceAnswersAsync(plan, agent.Xtr, known, SourceProbeTimeout, cancellationToken: ct);
    }

    /// <summary>A failover running in the agent, followed by the CLI.</summary>
    private sealed class FailoverJob(FailoverPlan plan)
    {
        public string Id { get; } = Guid.NewGuid().ToString("N");
        public volatile FailoverProgress? Progress;
        public volatile FailoverReport? Report;
        public volatile string? Error;

        public object ToJson()
        {
            var report = Report;
            var progress = Progress;
            return new
            {
                id = Id, from = plan.From, to = plan.To, total = plan.Moves.Count, done = report is not null || Error is not null, error = Error,
                converged = report is { Converged: true } && report.Moves.Count > 0, moved = report?.Moves.Count(m => m.Converged) ?? progress?.Converged ?? 0,
                failed = progress?.Failed ?? 0, verified = report?.Verified.Count ?? 0,
                moves = report?.Moves.OrderBy(m => m.Eid.ToString(), StringComparer.Ordinal).Select(m => new
                {
                    eid = m.Eid.ToString(), outcome = m.Converged ? "converged" : "failed", elapsedMs = m.Total.TotalMilliseconds, error = m.Error,
                }) ?? [],
                notConverged = report?.NotConverged.Select(n => new { eid = n.Eid.ToString(), reason = n.Reason }) ?? [],
                elapsedMs = report?.Elapsed.TotalMilliseconds,
            };
        }
    }
}
