using System.Diagnostics;
using System.Globalization;
using System.Net;
using LispMobility.Mobility.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LispMobility.Agent.Service;

/// <summary>The management API's <c>/api</c> endpoints the CLI verbs use.</summary>
internal static class AgentApi
{
    public static void Map(RouteGroupBuilder api, MobilityAgent agent)
    {
        api.MapGet("/status", () => Results.Json(new
        {
            site = agent.Config.Xtr.Site,
            xtrId = agent.Xtr.XtrId.ToString("x32", CultureInfo.InvariantCulture),
            rlocs = agent.Xtr.Rlocs.Select(r => r.Address.ToString()),
            control = agent.Xtr.LocalEndpoints.Select(e => e.ToString()),
            mapServers = agent.Xtr.MapServerStatus().Select(m => new { address = m.MapServer.ToString(), lastAcknowledged = m.LastAcknowledged }),
            hosts = agent.Xtr.Hosts().Count,
            mapCache = agent.Xtr.MapCacheEntries().Count,
            embeddedMapServer = agent.MapServer is { } ms ? new { registrations = ms.RegistrationCount, pendingNotifies = ms.PendingNotifyCount } : null,
        }));

        api.MapGet("/eids", () => Results.Json(agent.Xtr.Hosts().Select(h => new
        {
            eid = h.Eid.ToString(), range = h.Range, state = h.State.ToString(), since = h.Since,
        })));

        api.MapGet("/map-cache", () => Results.Json(agent.Xtr.MapCacheEntries().Select(e => new
        {
            eid = e.Eid.ToString(), rlocs = e.Locators.Select(l => $"{l.Address} p{l.Priority}/w{l.Weight}"), action = e.IsNegative ? e.Action.ToString() : null,
            ttlMinutes = e.TtlMinutes, expires = e.Expires, lastUsed = e.LastUsed,
        })));

        api.MapGet("/registrations", () => agent.MapServer is { } ms
            ? Results.Json(ms.ListRegistrations().Select(r => new
            {
                eid = r.Eid.ToString(), site = r.Site, rlocs = r.Rlocs.Select(l => l.Address.ToString()), lastRegistered = r.LastRegistered, expires = r.Expires,
                registrant = r.Registrant.ToString(), proxyReply = r.ProxyReply,
            }))
            : Results.Problem("this agent runs no embedded Map-Server (no MapServer section)", statusCode: StatusCodes.Status404NotFound));

        api.MapGet("/moves", (string? eid, string? vm, string? site, DateTimeOffset? since, int? limit, bool? newest) =>
            Results.Json(agent.Store.QueryAudit(new AuditQuery(eid, vm, site, since, limit ?? 1000, newest ?? false))));

        api.MapGet("/lookup", async (string eid, CancellationToken ct) =>
        {
            if (!IPAddress.TryParse(eid, out var address)) return Results.Problem($"'{eid}' is not an IP address", statusCode: StatusCodes.Status400BadRequest);
            var watch = Stopwatch.StartNew();
            try
            {
                // The xTR gives up after its ResolveTimeout (TimeoutException); the request's own abort is the client leaving.
                var entry = await agent.Xtr.ResolveAsync(address, refresh: true, ct).ConfigureAwait(false);
                return Results.Json(new
                {
                    eid = entry.Eid.ToString(), rlocs = entry.Locators.Select(l => l.Address.ToString()), action = entry.IsNegative ? entry.Action.ToString() : null,
                    ttlMinutes = entry.TtlMinutes, rttMs = watch.Elapsed.TotalMilliseconds,
                });
            }
            catch (TimeoutException e)
            {
                return Results.Problem(e.Message, statusCode: StatusCodes.Status504GatewayTimeout);
            }
            catch (InvalidOperationException e)
            {
                // No Map-Resolver configured, or a reply that did not cover the EID: the mapping system answered badly or not at all.
                return Results.Problem(e.Message, statusCode: StatusCodes.Status502BadGateway);
            }
        });

        api.MapPost("/failover", async (FailoverRequest request, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(request.From) || string.IsNullOrWhiteSpace(request.To))
            {
                return Results.Problem("from and to are required", statusCode: StatusCodes.Status400BadRequest);
            }

            var scope = new List<IPAddress>();
            foreach (var text in request.Eids ?? [])
            {
                if (!IPAddress.TryParse(text, out var a)) return Results.Problem($"'{text}' is not an IP address", statusCode: StatusCodes.Status400BadRequest);
                scope.Add(a);
            }

            // The DR site's agent may never have seen the failed site's EIDs: the operator can name them.
            var eids = scope.Count > 0 ? scope : agent.Coordinator.EidsAt(request.From);
            if (request.DryRun) return Results.Json(new { from = request.From, to = request.To, dryRun = true, eids = eids.Select(e => e.ToString()) });
            var job = new FailoverJob(request.From, request.To, eids.Count);
            Jobs[job.Id] = job;
            // The failover outlives the request: the CLI follows it through GET /api/failover/{id}.
            _ = Task.Run(async () =>
            {
                try
                {
                    job.Report = await agent.Coordinator.FailoverAsync(request.From, request.To, eids, new Progress<Mobility.FailoverProgress>(p => job.Progress = p)).ConfigureAwait(false);
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

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, FailoverJob> Jobs = new(StringComparer.Ordinal);

    /// <summary>A failover running in the agent, followed by the CLI.</summary>
    private sealed class FailoverJob(string from, string to, int total)
    {
        public string Id { get; } = Guid.NewGuid().ToString("N");
        public volatile Mobility.FailoverProgress? Progress;
        public volatile Mobility.FailoverReport? Report;
        public volatile string? Error;

        public object ToJson()
        {
            var report = Report;
            var progress = Progress;
            return new
            {
                id = Id, from, to, total, done = report is not null || Error is not null, error = Error,
                converged = report?.Converged ?? false, moved = report?.Moves.Count(m => m.Converged) ?? progress?.Converged ?? 0,
                failed = progress?.Failed ?? 0, verified = report?.Verified.Count ?? 0,
                notConverged = report?.NotConverged.Select(n => new { eid = n.Eid.ToString(), reason = n.Reason }) ?? [],
                elapsedMs = report?.Elapsed.TotalMilliseconds,
            };
        }
    }
}

/// <summary>Body of <c>POST /api/failover</c>.</summary>
internal sealed record FailoverRequest(string From, string To, bool DryRun = false, IReadOnlyList<string>? Eids = null);
