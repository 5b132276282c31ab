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

        ShowApi.Map(api, agent);

        // A runtime log level (like `debug lisp` on a router): until the next restart, which goes back to Log.MinimumLevel.
        api.MapGet("/log-level", (Serilog.Core.LoggingLevelSwitch levels) => Results.Json(new { level = levels.MinimumLevel.ToString() }));
        api.MapPut("/log-level", (string level, Serilog.Core.LoggingLevelSwitch levels) =>
        {
            if (!Enum.TryParse<Serilog.Events.LogEventLevel>(level, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || char.IsAsciiDigit(level[0]))
            {
                return Results.Problem($"'{level}' is not one of {MappingSystem.Configuration.LogLevelNames.Expected}", statusCode: StatusCodes.Status400BadRequest);
            }

            levels.MinimumLevel = parsed;
            return Results.Json(new { level = parsed.ToString() });
        });

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

        FailoverApi.Map(api, agent);
    }
}

/// <summary>Body of <c>POST /api/failover</c>.</summary>
internal sealed record FailoverRequest(string From, string To, bool DryRun = false, IReadOnlyList<string>? Eids = null, bool Force = false);
