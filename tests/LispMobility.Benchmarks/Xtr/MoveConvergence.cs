using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Benchmarks.Xtr;

/// <summary>
/// Move convergence of the embedded xTR on loopback with the embedded Map-Server: three <see cref="XtrNode"/>s (sites A, B and
/// a remote site C whose ITR talks to every host) on 127.21.0.x:4342. Each move registers a host at the other site and
/// measures from the <c>RegisterHostAsync</c> call to C's map-cache holding the new site's RLOC. Moves alternate A→B and
/// B→A, one distinct host per move, so that no SMR rate limit (one per 3 s per ITR and EID) is measured instead of the path.
/// </summary>
internal static class MoveConvergence
{
    private const string Net = "127.21.0";

    /// <summary>Parses the arguments, runs the moves, prints the percentiles; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var moves = 1000;
        var solicit = true;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--moves" && i + 1 < args.Length && int.TryParse(args[++i], CultureInfo.InvariantCulture, out var m) && m is > 0 and <= 60_000) moves = m;
            else if (args[i] == "--no-solicit") solicit = false;
            else
            {
                Console.Error.WriteLine("usage: xtr-converge [--moves 1000] [--no-solicit]");
                return 2;
            }
        }

        var msOptions = new MapServerOptions
        {
            Listen = [$"{Net}.100:4342"], MapNotifyPort = 4342, RequestsPerSecondPerRequester = 1_000_000, RequestBurstPerRequester = 1_000_000,
            Sites = [Site("a", "10.1.0.0/16"), Site("b", "10.2.0.0/16"), Site("c", "10.3.0.0/16")],
        };
        await using var ms = new MapServerService(new LispMobility.MappingSystem.MapServer(msOptions), msOptions, NullLoggerFactory.Instance);
        await ms.StartAsync(default);
        await using var a = new XtrNode(Xtr("a", 1, "10.1.0.0/16"), new InMemoryRouteTable());
        await using var b = new XtrNode(Xtr("b", 2, "10.2.0.0/16"), new InMemoryRouteTable());
        await using var c = new XtrNode(Xtr("c", 3, "10.3.0.0/16"), new InMemoryRouteTable());
        a.Start();
        b.Start();
        c.Start();

        var arrivals = new ConcurrentDictionary<LispAddress, (LispAddress Rloc, TaskCompletionSource<long> Done)>();
        c.EventRaised += (_, e) =>
        {
            if (e is MapCacheUpdated u && u.Eid.IsHost && arrivals.TryGetValue(u.Eid.Address, out var w) && u.Rlocs.Any(l => l.Address == w.Rloc))
            {
                w.Done.TrySetResult(Stopwatch.GetTimestamp());
            }
        };

        // Both movers talk to a host at C, so C's RLOC is "in use" in their map-caches (the targets of SolicitRemoteItrs).
        while (ms.Server.Lookup(LispAddress.Parse("10.3.0.1")) is null) await Task.Delay(10);
        await a.ResolveAsync(IPAddress.Parse("10.3.0.1"));
        await b.ResolveAsync(IPAddress.Parse("10.3.0.1"));

        Console.WriteLine(Invariant($"xtr-converge: {moves} moves, SMR from the new site {(solicit ? "on" : "off (Map-Server SMR only)")}, {Environment.ProcessorCount} cores"));
        var hosts = Enumerable.Range(0, moves).Select(i => IPAddress.Parse(Invariant($"10.200.{i / 250}.{i % 250 + 1}"))).ToArray();
        for (var i = 0; i < moves; i++)
        {
            await (i % 2 == 0 ? a : b).RegisterHostAsync(hosts[i], "vm");
            await c.ResolveAsync(hosts[i]);
        }

        var total = new double[moves];
        var register = new double[moves];
        var timeouts = 0;
        for (var i = 0; i < moves; i++)
        {
            var (to, rloc) = i % 2 == 0 ? (b, $"{Net}.2") : (a, $"{Net}.1");
            var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            arrivals[LispAddress.FromIPAddress(hosts[i])] = (LispAddress.Parse(rloc), done);
            var start = Stopwatch.GetTimestamp();
            await to.RegisterHostAsync(hosts[i], "vm");
            register[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (solicit) to.SolicitRemoteItrs(hosts[i]);
            try
            {
                var at = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
                total[i] = Stopwatch.GetElapsedTime(start, at).TotalMilliseconds;
            }
            catch (TimeoutException)
            {
                timeouts++;
                total[i] = double.PositiveInfinity;
            }
        }

        Console.WriteLine(Invariant($"convergence (RegisterHostAsync call -> C's map-cache holds the new RLOC): {Summary(total)}"));
        Console.WriteLine(Invariant($"  of which RegisterHostAsync (every Map-Server acknowledged):         {Summary(register)}"));
        Console.WriteLine(Invariant($"timeouts (10 s) {timeouts}; C: SMRs received {c.Counters.SmrsReceived}, Map-Requests {c.Counters.MapRequestsSent}; Map-Server: moves {ms.Server.Counters.Moves}, Map-Notify-Acks {ms.Server.Counters.NotifyAcks}, SMRs {ms.Server.Counters.SmrsSent}"));
        return timeouts == 0 ? 0 : 1;
    }

    private static SiteOptions Site(string name, string aggregate) => new()
    {
        Name = name,
        EidPrefixes = [new() { Prefix = aggregate, AcceptMoreSpecifics = true }, new() { Prefix = "10.200.0.0/16", AcceptMoreSpecifics = true }],
        Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = name + "-secret" }],
    };

    private static XtrOptions Xtr(string site, int n, string aggregate) => new()
    {
        Site = site,
        Listen = [Invariant($"{Net}.{n}:4342")],
        Rlocs = [new() { Address = Invariant($"{Net}.{n}") }],
        MapServers = [new() { Address = $"{Net}.100:4342", KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = site + "-secret" }],
        MapResolvers = [$"{Net}.100:4342"],
        DatabaseMappings = [aggregate],
        DynamicEids = site == "c" ? [] : [new() { Name = "vm", Prefix = "10.200.0.0/16", Interface = "vm0" }],
    };

    private static string Summary(double[] samples)
    {
        var sorted = samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return Invariant($"p50 {P(0.50):F2} ms, p90 {P(0.90):F2} ms, p99 {P(0.99):F2} ms, max {sorted[^1]:F2} ms");
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
