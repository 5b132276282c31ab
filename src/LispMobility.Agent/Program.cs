using System.CommandLine;
using System.Net;
using LispMobility.Agent.Cli;
using LispMobility.Agent.Configuration;
using LispMobility.Agent.Lab;
using LispMobility.Agent.Service;

var root = new RootCommand("lispmobility: the network follows the VM (LISP host mobility for hypervisor hosts)");
var config = new Option<FileInfo>("--config") { Description = "the agent's configuration file", DefaultValueFactory = _ => new FileInfo(ClientCommands.DefaultConfig) };
var json = new Option<bool>("--json") { Description = "print JSON for scripts" };
var debug = new Option<bool>("--debug") { Description = "print the stack trace of an unexpected error", Recursive = true };
root.Options.Add(debug);

var lab = new Command("lab", "Run the embedded lab: Map-Server, two data centers and a branch on loopback; move a VM and fail a site over");
lab.SetAction(async (_, ct) => await new LabScenario(Console.Out).RunAsync(ct) ? 0 : 1);
root.Subcommands.Add(lab);

var run = new Command("run", "Run the agent (as a service under systemd or the Windows SCM, or in the foreground)") { config };
run.SetAction((parse, ct) => RunCommand.RunAsync(parse.GetValue(config)!, ct));
root.Subcommands.Add(run);

var status = new Command("status", "The agent: site, xTR, Map-Servers and their last acknowledgement") { config, json };
status.SetAction((parse, ct) => ClientCommands.ShowAsync(parse.GetValue(config)!, "/api/status", parse.GetValue(json), [], Console.Out, ct));
root.Subcommands.Add(status);

var cacheEid = new Argument<string?>("eid") { Description = "only the entries covering or inside this EID or prefix", Arity = ArgumentArity.ZeroOrOne };
foreach (var (name, path, description, render, filter) in new (string, string, string, Action<System.Text.Json.JsonElement, TextWriter>, bool)[]
{
    ("eids", "/api/eids", "Dynamic hosts at this site: state, uptime and what discovered them", ShowViews.Eids, false),
    ("map-cache", "/api/map-cache", "The ITR's map-cache (show ip lisp map-cache): uptime, expiry, locators up/down", ShowViews.MapCache, true),
    ("database", "/api/database", "What this ETR registers (show ip lisp database): aggregates and dynamic-EID hosts with their RLOCs", ShowViews.Database, false),
    ("rlocs", "/api/rlocs", "Remote locators and RLOC probing (show lisp rloc-probe): up/down and why, probes sent/answered/missed, round trip", ShowViews.Rlocs, false),
    ("registrations", "/api/registrations", "Sites at the embedded Map-Server (show lisp site): up/down, registrations and their age, counters", ShowViews.Registrations, false),
})
{
    var verb = new Command(name, description) { config, json };
    if (filter) verb.Arguments.Add(cacheEid);
    verb.SetAction((parse, ct) => ClientCommands.ShowAsync(parse.GetValue(config)!,
        filter && parse.GetValue(cacheEid) is { } e ? $"{path}?eid={Uri.EscapeDataString(e)}" : path, parse.GetValue(json), render, Console.Out, ct));
    root.Subcommands.Add(verb);
}

var clearEid = new Argument<string?>("eid") { Description = "only the entries covering or inside this EID or prefix (what `map-cache EID` shows)", Arity = ArgumentArity.ZeroOrOne };
var clearCache = new Command("map-cache", "Remove map-cache entries (clear ip lisp map-cache): one EID's, or all; the next packet resolves afresh") { clearEid, config, json };
clearCache.SetAction((parse, ct) => ClientCommands.ShowAsync(parse.GetValue(config)!,
    parse.GetValue(clearEid) is { } e ? $"/api/map-cache?eid={Uri.EscapeDataString(e)}" : "/api/map-cache", parse.GetValue(json), ShowViews.Cleared, Console.Out, ct, HttpMethod.Delete));
root.Subcommands.Add(new Command("clear", "Clear state in the running agent") { clearCache });

var level = new Argument<string?>("level") { Description = "Verbose, Debug, Information, Warning, Error or Fatal; none shows the level", Arity = ArgumentArity.ZeroOrOne };
var logLevel = new Command("log-level", "Show or change the running agent's log level (until it restarts; Log.MinimumLevel is the lasting one)") { level, config, json };
logLevel.SetAction((parse, ct) => ClientCommands.ShowAsync(parse.GetValue(config)!,
    parse.GetValue(level) is { } l ? $"/api/log-level?level={Uri.EscapeDataString(l)}" : "/api/log-level", parse.GetValue(json),
    (r, o) => o.WriteLine($"log level: {r.GetProperty("level").GetString()}"), Console.Out, ct, parse.GetValue(level) is null ? HttpMethod.Get : HttpMethod.Put));
root.Subcommands.Add(logLevel);

var eidFilter = new Option<string?>("--eid") { Description = "only this EID" };
var vmFilter = new Option<string?>("--vm") { Description = "only this VM" };
var siteFilter = new Option<string?>("--site") { Description = "only moves from or to this site" };
var since = new Option<string?>("--since") { Description = "only since an age back (30m, 2h, 7d) or an ISO 8601 time" };
var limit = new Option<int?>("--limit") { Description = $"at most this many rows, newest first (default {LispMobility.Agent.Cli.MovesQuery.DefaultLimit})" };
var moves = new Command("moves", "The audit history of moves and decisions, newest first") { config, json, eidFilter, vmFilter, siteFilter, since, limit };
moves.SetAction((parse, ct) =>
{
    var path = LispMobility.Agent.Cli.MovesQuery.Path(parse.GetValue(eidFilter), parse.GetValue(vmFilter), parse.GetValue(siteFilter), parse.GetValue(since),
        parse.GetValue(limit), DateTimeOffset.UtcNow, out var error);
    if (path is null)
    {
        Console.Error.WriteLine($"lispmobility moves: {error}");
        return Task.FromResult(2);
    }

    return ClientCommands.ShowAsync(parse.GetValue(config)!, path, parse.GetValue(json),
        ["time", "eid", "vm", "fromSite", "toSite", "kind", "outcome", "durationMs", "detail"], Console.Out, ct);
});
root.Subcommands.Add(moves);

var lookupEid = new Argument<string>("eid") { Description = "the EID to look up (IPv4 or IPv6, through a Map-Resolver of either family)" };
var resolver = new Option<string?>("--map-resolver") { Description = "address[:port] of a Map-Resolver to ask directly (lig); without it, the running agent asks" };
var count = new Option<int?>("--count") { Description = "lig: Map-Requests to send before giving up (default 3)" };
var timeout = new Option<double?>("--timeout") { Description = "lig: seconds to wait for each reply (default 2)" };
var source = new Option<string?>("--source") { Description = "lig: this host's address to ask from (the ITR-RLOC), of the Map-Resolver's family" };
var lookup = new Command("lookup", "Send a Map-Request and print the mapping (or negative reply) and the round trip") { lookupEid, resolver, count, timeout, source, config, json };
lookup.SetAction(async (parse, ct) =>
{
    if (!IPAddress.TryParse(parse.GetValue(lookupEid), out var eid))
    {
        await Console.Error.WriteLineAsync($"lispmobility lookup: '{parse.GetValue(lookupEid)}' is not an IP address").ConfigureAwait(false);
        return 2;
    }

    if (parse.GetValue(resolver) is not { } mr)
    {
        if (parse.GetValue(count) is not null || parse.GetValue(timeout) is not null || parse.GetValue(source) is not null)
        {
            await Console.Error.WriteLineAsync("lispmobility lookup: --count, --timeout and --source are for lig mode; give --map-resolver too").ConfigureAwait(false);
            return 2;
        }

        return await ClientCommands.ShowAsync(parse.GetValue(config)!, $"/api/lookup?eid={eid}", parse.GetValue(json), [], Console.Out, ct).ConfigureAwait(false);
    }

    if (!IPEndPoint.TryParse(mr, out var ep))
    {
        await Console.Error.WriteLineAsync($"lispmobility lookup: '{mr}' is not address[:port]").ConfigureAwait(false);
        return 2;
    }

    IPAddress? asker = null;
    if (parse.GetValue(source) is { } s && !IPAddress.TryParse(s, out asker))
    {
        await Console.Error.WriteLineAsync($"lispmobility lookup: --source '{s}' is not an IP address").ConfigureAwait(false);
        return 2;
    }

    if (ep.Port == 0) ep.Port = 4342;
    var wait = parse.GetValue(timeout) is { } t ? TimeSpan.FromSeconds(t) : (TimeSpan?)null;
    return await LigCommand.RunAsync(eid, ep, new LigOptions(parse.GetValue(count) ?? 3, wait, asker, parse.GetValue(json)), Console.Out, ct).ConfigureAwait(false);
});
root.Subcommands.Add(lookup);

foreach (var (name, description) in new[] { ("failover", "DR without renumbering: move every EID of a site to another"), ("failback", "Return EIDs to their site after a failover") })
{
    var from = new Option<string>("--from") { Description = "the site the EIDs leave", Required = true };
    var to = new Option<string>("--to") { Description = "the site that takes them", Required = true };
    var dryRun = new Option<bool>("--dry-run") { Description = "show what would move (validated and refused exactly like the real run); change nothing" };
    var force = new Option<bool>("--force") { Description = "fail over even though the source site still answers (Map-Register or Map-Request)" };
    var eids = new Option<string[]>("--eid") { Description = "the EIDs to move (repeatable); default: every EID this agent and its Map-Server know at --from", AllowMultipleArgumentsPerToken = true };
    var verb = new Command(name, description) { from, to, dryRun, force, eids, config, json };
    verb.SetAction((parse, ct) => FailoverCommand.RunAsync(parse.GetValue(config)!, parse.GetValue(from)!, parse.GetValue(to)!, parse.GetValue(dryRun),
        parse.GetValue(force), parse.GetValue(eids) ?? [], parse.GetValue(json), Console.Out, ct));
    root.Subcommands.Add(verb);
}

var configFile = new Argument<FileInfo>("file") { Description = "appsettings.json to check" };
var targetOs = new Option<string>("--os")
{
    Description = "the system the file is for: its paths and OS-only settings are judged for it (default: this one)",
    DefaultValueFactory = _ => TargetOsRules.Current.Name(),
};
targetOs.AcceptOnlyFromAmong("linux", "windows");
var validate = new Command("validate", "Check a configuration file; prints every error with its path") { configFile, targetOs };
validate.SetAction(parse => ConfigCommands.Validate(parse.GetValue(configFile)!,
    parse.GetValue(targetOs) == "windows" ? TargetOs.Windows : TargetOs.Linux, Console.Out));
root.Subcommands.Add(new Command("config", "Configuration tools") { validate });

var msConfig = new Option<FileInfo>("--config") { Description = "configuration file with a MapServer section", Required = true };
var mapServer = new Command("map-server", "Run the mapping system (Map-Server/Map-Resolver) alone") { msConfig };
mapServer.SetAction(async (parse, ct) => await ConfigCommands.RunMapServerAsync(parse.GetValue(msConfig)!, ct));
root.Subcommands.Add(mapServer);

var parsed = root.Parse(args);
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is not OperationCanceledException)
{
    // An operator reads one line saying what and how to fix; the stack trace is for whoever asks with --debug.
    await Console.Error.WriteLineAsync(parsed.GetValue(debug) ? e.ToString() : $"lispmobility: {OperatorErrors.Describe(e)}");
    return 1;
}
