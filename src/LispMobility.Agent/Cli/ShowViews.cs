using System.Globalization;
using System.Text.Json;

namespace LispMobility.Agent.Cli;

/// <summary>
/// The show verbs as a Cisco engineer reads them (<c>show lisp site</c>, <c>show ip lisp map-cache</c>, <c>show ip lisp
/// database</c>): ages and countdowns as 00:03:12 or 2d04h, locators with up/down, plain columns.
/// </summary>
internal static class ShowViews
{
    public static void Registrations(JsonElement root, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var site in root.GetProperty("sites").EnumerateArray())
        {
            var name = site.GetProperty("site").GetString();
            var regs = site.GetProperty("registrations").EnumerateArray().ToList();
            var configured = string.Join(", ", site.GetProperty("configured").EnumerateArray().Select(c => c.GetString()));
            output.WriteLine(site.GetProperty("up").GetBoolean()
                ? $"Site {name}: up, {regs.Count} registration(s), last registered {Age(site.GetProperty("lastRegistered"), now)} ago; configured {configured}"
                : $"Site {name}: down (no registration); configured {configured}");
            if (regs.Count == 0) continue;
            PlainTable.Write(output, ["eid-prefix", "last register", "expires in", "rlocs", "who last registered", "proxy"],
                regs.Select(r => (IReadOnlyList<string>)
                [
                    r.GetProperty("eid").GetString()!, Age(r.GetProperty("lastRegistered"), now), Countdown(r.GetProperty("expires"), now),
                    string.Join(", ", r.GetProperty("rlocs").EnumerateArray().Select(l => l.GetString())), r.GetProperty("registrant").GetString()!,
                    r.GetProperty("proxyReply").GetBoolean() ? "yes" : "no",
                ]));
            output.WriteLine();
        }

        var c = root.GetProperty("counters");
        var refused = c.GetProperty("refused").EnumerateObject().Select(p => $"{p.Name} {p.Value.GetInt64()}").ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Map-Server: {c.GetProperty("registersAccepted").GetInt64()} Map-Register(s) accepted, {c.GetProperty("mapNotifiesSent").GetInt64()} Map-Notify(s) sent, {c.GetProperty("expired").GetInt64()} expired; refused: {(refused.Count == 0 ? "none" : string.Join(", ", refused))}"));
    }

    public static void MapCache(JsonElement root, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        var rows = root.EnumerateArray().ToList();
        output.WriteLine($"LISP IPv4/IPv6 Mapping Cache, {rows.Count} entries");
        PlainTable.Write(output, ["eid-prefix", "uptime", "expires in", "last used", "via", "action", "locators (priority/weight state)"],
            rows.Select(e => (IReadOnlyList<string>)
            [
                e.GetProperty("eid").GetString()!, Age(e.GetProperty("installed"), now), Countdown(e.GetProperty("expires"), now), Age(e.GetProperty("lastUsed"), now) + " ago",
                e.GetProperty("learnedBy").GetString()!, e.GetProperty("action").GetString() ?? "forward", Locators(e.GetProperty("rlocs")),
            ]));
    }

    public static void Cleared(JsonElement root, TextWriter output)
    {
        var cleared = root.GetProperty("cleared").EnumerateArray().Select(p => p.GetString()).ToList();
        output.WriteLine(cleared.Count == 0 ? "No map-cache entry to clear" : $"Cleared {cleared.Count} map-cache entr{(cleared.Count == 1 ? "y" : "ies")}: {string.Join(", ", cleared)}");
    }

    public static void Database(JsonElement root, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        var ack = root.GetProperty("lastAcknowledged");
        output.WriteLine($"LISP ETR database of site {root.GetProperty("site").GetString()}; last Map-Notify " +
                         (ack.ValueKind == JsonValueKind.Null ? "never" : $"{Age(ack, now)} ago"));
        PlainTable.Write(output, ["eid-prefix", "kind", "range", "state", "uptime", "locators (priority/weight state)"],
            root.GetProperty("mappings").EnumerateArray().Select(m => (IReadOnlyList<string>)
            [
                m.GetProperty("eid").GetString()!, m.GetProperty("kind").GetString()!, m.GetProperty("range").GetString() ?? "", m.GetProperty("state").GetString()!,
                m.GetProperty("since").ValueKind == JsonValueKind.Null ? "" : Age(m.GetProperty("since"), now), Locators(m.GetProperty("rlocs")),
            ]));
    }

    public static void Rlocs(JsonElement root, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        var rows = root.GetProperty("rlocs").EnumerateArray().ToList();
        output.WriteLine(root.GetProperty("probing").GetBoolean()
            ? string.Create(CultureInfo.InvariantCulture, $"RLOC probing every {root.GetProperty("interval").GetDouble():0.###} s, down after {root.GetProperty("missLimit").GetInt32()} missed; {rows.Count} remote locator(s)")
            : $"RLOC probing off (Xtr:RlocProbing); {rows.Count} remote locator(s) known from locator-status bits");
        PlainTable.Write(output, ["rloc", "state", "since", "probes sent", "answered", "missed", "rtt", "reason"],
            rows.Select(r => (IReadOnlyList<string>)
            [
                r.GetProperty("rloc").GetString()!, r.GetProperty("up").GetBoolean() ? "up" : "down", Age(r.GetProperty("since"), now),
                Number(r, "sent"), Number(r, "answered"), Number(r, "missed"),
                r.GetProperty("rttMs").ValueKind == JsonValueKind.Null ? "" : string.Create(CultureInfo.InvariantCulture, $"{r.GetProperty("rttMs").GetDouble():0.0} ms"),
                r.GetProperty("reason").GetString() ?? "",
            ]));
    }

    public static void Eids(JsonElement root, TextWriter output)
    {
        var now = DateTimeOffset.UtcNow;
        PlainTable.Write(output, ["eid", "range", "state", "uptime", "discovered by", "vm"],
            root.EnumerateArray().Select(h => (IReadOnlyList<string>)
            [
                h.GetProperty("eid").GetString()!, h.GetProperty("range").GetString()!, h.GetProperty("state").GetString()!, Age(h.GetProperty("since"), now),
                h.GetProperty("source").GetString()!, h.GetProperty("vm").GetString() ?? "",
            ]));
    }

    private static string Locators(JsonElement rlocs) => string.Join(", ", rlocs.EnumerateArray().Select(l => string.Create(CultureInfo.InvariantCulture,
        $"{l.GetProperty("address").GetString()} {l.GetProperty("priority").GetInt32()}/{l.GetProperty("weight").GetInt32()} {(l.GetProperty("up").GetBoolean() ? "up" : "down")}")));

    private static string Number(JsonElement e, string name) => e.GetProperty(name).GetInt64().ToString(CultureInfo.InvariantCulture);

    private static string Age(JsonElement time, DateTimeOffset now) => time.ValueKind == JsonValueKind.Null ? "never" : Durations.Age(now - time.GetDateTimeOffset());

    private static string Countdown(JsonElement time, DateTimeOffset now) => time.ValueKind == JsonValueKind.Null ? "" : Durations.Age(time.GetDateTimeOffset() - now);
}
