using System.Text.Json;
using LispMobility.IntegrationTests.Lab;

namespace LispMobility.IntegrationTests;

/// <summary>What "the network followed the VM" means in the lab, checked in the real routing tables, map-caches and registrations.</summary>
internal static class Converged
{
    /// <summary>Generous: the faults (netem, restarts) stretch convergence; a healthy lab takes well under a second.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>The EID is at DC2: its /32 (/128) registered by DC2, DC1 blackholes it, the branch's map-cache points at DC2 (after SMR).</summary>
    public static async Task AtDc2Async(NetnsLab lab, string eid, bool branchAsked = true)
    {
        await lab.EventuallyAsync(async () => HostRegisteredBy(await lab.ApiAsync("ms", "/registrations").ConfigureAwait(false), eid, "dc2"),
            Deadline, $"the Map-Server holds {Host(eid)} from dc2").ConfigureAwait(false);
        await lab.EventuallyAsync(async () => (await lab.RoutesAsync("dc1").ConfigureAwait(false)).Contains($"blackhole {eid} ", StringComparison.Ordinal),
            Deadline, $"DC1 has 'blackhole {eid} proto 222' in its routing table").ConfigureAwait(false);
        await lab.EventuallyAsync(async () => (await lab.RoutesAsync("dc2").ConfigureAwait(false)).Contains($"{eid} dev srv", StringComparison.Ordinal),
            Deadline, $"DC2 routes {eid} to its server bridge").ConfigureAwait(false);
        if (branchAsked)
        {
            await lab.EventuallyAsync(async () => CacheHolds(await lab.ApiAsync("br", "/map-cache").ConfigureAwait(false), Host(eid), lab.RlocOf("dc2")),
                Deadline, $"the branch's map-cache holds {Host(eid)} -> DC2's RLOC").ConfigureAwait(false);
        }
    }

    /// <summary>The EID is home: no /32 (/128) registered, DC1's aggregate answers lookups, no blackhole at DC1 or DC2.</summary>
    public static async Task HomeAsync(NetnsLab lab, string eid)
    {
        await lab.EventuallyAsync(async () => !HostRegistered(await lab.ApiAsync("ms", "/registrations").ConfigureAwait(false), eid),
            Deadline, $"the Map-Server holds no {Host(eid)}").ConfigureAwait(false);
        await lab.EventuallyAsync(async () => !(await lab.RoutesAsync("dc1").ConfigureAwait(false)).Contains($"blackhole {eid} ", StringComparison.Ordinal),
            Deadline, $"DC1 no longer blackholes {eid}").ConfigureAwait(false);
        // DC2 held the EID away while its /32 lived; told the /32 is gone, it keeps no route of ours for it (no blackhole).
        await lab.EventuallyAsync(async () => !(await lab.RoutesAsync("dc2").ConfigureAwait(false)).Contains($"{eid} ", StringComparison.Ordinal),
            Deadline, $"DC2 holds no route for {eid} any more").ConfigureAwait(false);
        var aggregate = IsIPv6(eid) ? "2001:db8:4::/64" : "172.16.4.0/24";
        await lab.EventuallyAsync(async () =>
        {
            var r = await lab.CliAsync("br", "lookup", eid, "--json").ConfigureAwait(false);
            return r.ExitCode == 0 && r.Output.Contains(aggregate, StringComparison.Ordinal) && r.Output.Contains(lab.RlocOf("dc1"), StringComparison.Ordinal);
        }, Deadline, $"a lookup of {eid} from the branch answers DC1's aggregate {aggregate}").ConfigureAwait(false);
    }

    /// <summary>The host prefix of an EID as the Map-Server and map-caches print it: a.b.c.d/32 or x::y/128.</summary>
    public static string Host(string eid) => eid + (IsIPv6(eid) ? "/128" : "/32");

    private static bool IsIPv6(string eid) => eid.Contains(':', StringComparison.Ordinal);

    // /api/registrations is "show lisp site": { sites: [ { site, registrations: [ { eid, ... } ] } ], counters }.
    public static bool HostRegisteredBy(JsonElement? registrations, string eid, string site) =>
        Sites(registrations) is { } sites && sites.Any(s => s.GetProperty("site").GetString() == site
            && s.GetProperty("registrations").EnumerateArray().Any(e => e.GetProperty("eid").GetString() == Host(eid)));

    /// <summary>True also when the Map-Server does not answer: "not registered" must be seen, not assumed.</summary>
    public static bool HostRegistered(JsonElement? registrations, string eid) =>
        Sites(registrations) is not { } sites || sites.Any(s => s.GetProperty("registrations").EnumerateArray().Any(e => e.GetProperty("eid").GetString() == Host(eid)));

    public static bool CacheHolds(JsonElement? cache, string prefix, string rloc) =>
        cache is { ValueKind: JsonValueKind.Array } c && c.EnumerateArray().Any(e => e.GetProperty("eid").GetString() == prefix
            && e.GetProperty("rlocs").EnumerateArray().Any(l => l.GetProperty("address").GetString() == rloc));

    /// <summary>Every registration of <c>/api/registrations</c> with its site's name.</summary>
    public static IEnumerable<(string Site, JsonElement Registration)> Registrations(JsonElement? registrations) =>
        (Sites(registrations) ?? []).SelectMany(s => s.GetProperty("registrations").EnumerateArray().Select(e => (s.GetProperty("site").GetString()!, e)));

    private static List<JsonElement>? Sites(JsonElement? registrations) =>
        registrations is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("sites", out var sites) ? [.. sites.EnumerateArray()] : null;
}
