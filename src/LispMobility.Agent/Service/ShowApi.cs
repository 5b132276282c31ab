using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr.Caching;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LispMobility.Agent.Service;

/// <summary>
/// The <c>/api</c> views behind the show verbs (<c>registrations</c>, <c>map-cache</c>, <c>database</c>, <c>rlocs</c>, <c>eids</c>) and
/// <c>clear map-cache</c>: times as UTC timestamps and lists as lists, for scripts; the CLI turns them into ages and columns.
/// </summary>
internal static class ShowApi
{
    public static void Map(RouteGroupBuilder api, MobilityAgent agent)
    {
        // show lisp site: every configured site, up while it holds a registration, with what it registered and when.
        api.MapGet("/registrations", () =>
        {
            if (agent.MapServer is not { } ms) return Results.Problem("this agent runs no embedded Map-Server (no MapServer section)", statusCode: StatusCodes.Status404NotFound);
            var registrations = ms.ListRegistrations();
            return Results.Json(new
            {
                sites = agent.Config.MapServer!.Sites.Select(site =>
                {
                    var held = registrations.Where(r => string.Equals(r.Site, site.Name, StringComparison.OrdinalIgnoreCase)).OrderBy(r => r.Eid.ToString(), StringComparer.Ordinal).ToList();
                    return new
                    {
                        site = site.Name, up = held.Count > 0, lastRegistered = held.Count > 0 ? held.Max(r => r.LastRegistered) : (DateTimeOffset?)null,
                        configured = site.EidPrefixes.Select(p => p.AcceptMoreSpecifics ? $"{p.Prefix} accept-more-specifics" : p.Prefix),
                        registrations = held.Select(r => new
                        {
                            eid = r.Eid.ToString(), rlocs = r.Rlocs.Select(l => l.Address.ToString()), lastRegistered = r.LastRegistered, expires = r.Expires,
                            registrant = r.Registrant.ToString(), proxyReply = r.ProxyReply, ttlMinutes = r.Ttl,
                        }),
                    };
                }),
                // The Map-Server counts refusals by reason, not by site: a refused Map-Register names no site it could be trusted for.
                counters = new
                {
                    registersAccepted = ms.Counters.RegistersAccepted, mapNotifiesSent = ms.Counters.MapNotifiesSent, expired = ms.Counters.Expired,
                    refused = ms.Counters.RejectedByReason().Where(r => r.Value > 0).ToDictionary(r => r.Key.ToString(), r => r.Value),
                },
            });
        });

        // show ip lisp map-cache [EID]
        api.MapGet("/map-cache", (string? eid) =>
        {
            if (!TryFilter(eid, out var filter, out var problem)) return problem!;
            return Results.Json(agent.Xtr.MapCacheEntries()
                .Where(e => Selects(filter, e.Eid))
                .OrderBy(e => e.Eid.ToString(), StringComparer.Ordinal)
                .Select(e => new
                {
                    eid = e.Eid.ToString(), installed = e.Installed, expires = e.Expires, lastUsed = e.LastUsed, ttlMinutes = e.TtlMinutes,
                    learnedBy = e.LearnedBy == MapCacheSource.Smr ? "smr" : "map-reply",
                    action = e.IsNegative ? e.Action.ToString() : null,
                    rlocs = e.Locators.Select(l => new { address = l.Address.ToString(), priority = l.Priority, weight = l.Weight, up = l.Reachable }),
                }));
        });

        // clear ip lisp map-cache [EID]: removes what `map-cache EID` shows (every entry without one); the next packet resolves afresh.
        api.MapDelete("/map-cache", (string? eid) =>
        {
            if (!TryFilter(eid, out var filter, out var problem)) return problem!;
            var removed = agent.Xtr.ClearMapCache(filter);
            return Results.Json(new { cleared = removed.Select(p => p.ToString()).OrderBy(p => p, StringComparer.Ordinal) });
        });

        // show ip lisp database: what this xTR registers — its aggregates and the dynamic-EID hosts it holds here.
        api.MapGet("/database", () =>
        {
            var acks = agent.Xtr.MapServerStatus();
            var lastAck = acks.Count > 0 ? acks.Max(a => a.LastAcknowledged) : null;
            var rlocs = agent.Xtr.Rlocs.Select(l => new { address = l.Address.ToString(), priority = l.Priority, weight = l.Weight, up = l.Reachable }).ToList();
            var aggregates = agent.Config.Xtr.DatabaseMappings.Select(p => new { eid = EidPrefix.Parse(p).ToString(), kind = "aggregate", range = (string?)null, state = "Registered", rlocs, since = (DateTimeOffset?)null });
            var hosts = agent.Xtr.Hosts().Where(h => h.State != Xtr.HostState.Away)
                .Select(h => new { eid = h.Eid.ToString(), kind = "dynamic-eid", range = (string?)h.Range, state = h.State.ToString(), rlocs, since = (DateTimeOffset?)h.Since });
            return Results.Json(new { site = agent.Config.Xtr.Site, lastAcknowledged = lastAck, mappings = aggregates.Concat(hosts) });
        });

        // show lisp rloc-probe: the remote locators in use, up or down and why, probes sent/answered/missed and the last round trip.
        api.MapGet("/rlocs", () => Results.Json(new
        {
            probing = agent.Config.Xtr.ProbesRlocs, interval = agent.Config.Xtr.RlocProbeInterval.TotalSeconds, missLimit = agent.Config.Xtr.RlocProbeMissLimit,
            rlocs = agent.Xtr.RemoteRlocs().OrderBy(r => r.Rloc.ToString(), StringComparer.Ordinal).Select(r => new
            {
                rloc = r.Rloc.ToString(), up = r.Up, reason = r.DownReason, since = r.Since, missedInARow = r.MissedInARow,
                sent = r.ProbesSent, answered = r.ProbesAnswered, missed = r.ProbesMissed, rttMs = r.RoundTrip?.TotalMilliseconds,
            }),
        }));

        // Dynamic hosts at this site, and what reported each (the latest audit row about it).
        api.MapGet("/eids", () => Results.Json(agent.Xtr.Hosts().OrderBy(h => h.Eid.ToString(), StringComparer.Ordinal).Select(h =>
        {
            var address = h.Eid.Address.ToIPAddress().ToString();
            var last = agent.Store.QueryAudit(new AuditQuery(address, Limit: 1, NewestFirst: true)).FirstOrDefault();
            return new { eid = h.Eid.ToString(), range = h.Range, state = h.State.ToString(), since = h.Since, source = last?.Source ?? "xtr", vm = last?.Vm };
        })));
    }

    private static bool TryFilter(string? eid, out EidPrefix? filter, out IResult? problem)
    {
        filter = null;
        problem = null;
        if (eid is null) return true;
        if (IPAddress.TryParse(eid, out var a)) filter = EidPrefix.Host(a);
        else if (EidPrefix.TryParse(eid, out var p)) filter = p;
        else problem = Results.Problem($"'{eid}' is not an EID (address or prefix)", statusCode: StatusCodes.Status400BadRequest);
        return problem is null;
    }

    // The entries an EID filter selects: those covering it (its mapping) and those inside it (more specifics of a prefix).
    private static bool Selects(EidPrefix? filter, EidPrefix eid) => filter is not { } f || eid.Contains(f) || f.Contains(eid);
}
