using System.Diagnostics;
using System.Globalization;
using System.Net;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Benchmarks.Mobility;

/// <summary>
/// The mobility domain end to end on loopback, without switch drivers: the embedded Map-Server on 127.42.0.100 and the xTRs
/// of DC1 (home of 172.16.0.0/12) and DC2 on 127.42.0.1/.2, port 4342, a <see cref="MobilityCoordinator"/> over a SQLite
/// journal in a temporary file. <c>mobility-converge</c> times full move sagas (journal → register + Map-Notify → old site
/// away → gateways (none) → SMR), away from home and back home; <c>mobility-failover</c> fails N EIDs over DC1 → DC2 with
/// verification by Map-Request, then fails them back.
/// </summary>
internal static class MobilitySagas
{
    private const string Net = "127.42.0";

    /// <summary>Parses the arguments, runs, prints; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string mode, string[] args)
    {
        var count = mode == "mobility-failover" ? 10_000 : 1000;
        var parallel = 64;
        var rounds = 1;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--moves" or "--eids" && i + 1 < args.Length && int.TryParse(args[++i], CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 200_000) count = n;
            else if (args[i] == "--parallel" && i + 1 < args.Length && int.TryParse(args[++i], CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 4096) parallel = p;
            else if (args[i] == "--rounds" && i + 1 < args.Length && int.TryParse(args[++i], CultureInfo.InvariantCulture, out var r) && r is > 0 and <= 100) rounds = r;
            else
            {
                Console.Error.WriteLine("usage: mobility-converge [--moves 1000] | mobility-failover [--eids 10000] [--parallel 64] [--rounds 1]");
                return 2;
            }
        }

        var msOptions = new MapServerOptions
        {
            Listen = [$"{Net}.100:4342"], MapNotifyPort = 4342, RequestsPerSecondPerRequester = 1_000_000, RequestBurstPerRequester = 1_000_000,
            Sites = [Site("dc1", ("172.16.0.0/12", true)), Site("dc2", ("10.2.0.0/16", false), ("172.16.0.0/12", true))],
        };
        var directory = Directory.CreateTempSubdirectory("lm-bench-mobility-").FullName;
        try
        {
            await using var ms = new MapServerService(new LispMobility.MappingSystem.MapServer(msOptions), msOptions, NullLoggerFactory.Instance);
            await ms.StartAsync(default);
            await using var dc1 = new XtrNode(Xtr("dc1", 1, "172.16.0.0/12"), new InMemoryRouteTable());
            await using var dc2 = new XtrNode(Xtr("dc2", 2, "10.2.0.0/16"), new InMemoryRouteTable());
            dc1.Start();
            dc2.Start();
            while (ms.Server.RegistrationCount < 2) await Task.Delay(10);
            using var store = new MobilityStore(Path.Combine(directory, "mobility.db"));
            var options = new MobilityOptions
            {
                Database = Path.Combine(directory, "mobility.db"), MaxParallelMoves = parallel,
                Ranges = [new DynamicEidRangeOptions { Name = "vm", Prefix = "172.16.0.0/12", HomeSite = "dc1", Sites = ["dc1", "dc2"] }],
            };
            var coordinator = new MobilityCoordinator(options, new Dictionary<string, ITunnelRouter> { ["dc1"] = dc1, ["dc2"] = dc2 }, store);
            // 250 EIDs to a /24 from 172.16.100.0 on (the /12 holds the 100,000-EID run: up to 172.17.243.x).
            var eids = Enumerable.Range(0, count).Select(i => EidAt(0xAC106400u + (uint)(i / 250 * 256 + i % 250 + 1))).ToList();
            foreach (var eid in eids) coordinator.Adopt(eid, "dc1");
            Console.WriteLine(Invariant($"{mode}: {count} EIDs, {Environment.ProcessorCount} cores, MaxParallelMoves {parallel}"));
            if (mode != "mobility-failover") return await ConvergeAsync(coordinator, eids);
            // Round 1 runs in a fresh process (JIT compiling as it goes); later rounds show a process that has failed over before.
            var exit = 0;
            for (var round = 1; round <= rounds; round++)
            {
                if (rounds > 1) Console.WriteLine(Invariant($"round {round}:"));
                exit |= await FailoverAsync(coordinator, eids);
            }

            return exit;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static IPAddress EidAt(uint address) => new([(byte)(address >> 24), (byte)(address >> 16), (byte)(address >> 8), (byte)address]);

    private static async Task<int> ConvergeAsync(MobilityCoordinator coordinator, List<IPAddress> eids)
    {
        var away = new double[eids.Count];
        var home = new double[eids.Count];
        var steps = new Dictionary<MoveStep, List<double>>();
        var homeOutcomes = new MoveOutcome[eids.Count];
        var failed = 0;
        for (var i = 0; i < eids.Count; i++)
        {
            foreach (var (to, into) in new[] { ("dc2", away), ("dc1", home) })
            {
                var start = Stopwatch.GetTimestamp();
                var outcome = await coordinator.MoveAsync(new MoveIntent(eids[i], "vm-" + i, null, to, "migration", "benchmark"));
                into[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (to == "dc1") homeOutcomes[i] = outcome;
                if (!outcome.Converged) failed++;
                foreach (var s in outcome.Steps) (steps.TryGetValue(s.Step, out var l) ? l : steps[s.Step] = []).Add(s.Elapsed.TotalMilliseconds);
            }
        }

        Console.WriteLine(Invariant($"move saga DC1 -> DC2 (MoveAsync call -> converged): {Summary(away)}"));
        Console.WriteLine(Invariant($"move saga DC2 -> DC1 home (/32 withdrawn):          {Summary(home)}"));
        foreach (var (step, samples) in steps) Console.WriteLine(Invariant($"  step {step,-20} {Summary([.. samples])}"));
        Console.WriteLine(Invariant($"failed moves: {failed}"));
        // The slowest home moves with the time of each step and what the saga spent outside them (journal, audit, gates):
        // a p99 of the steps over both directions hides the few slow ones.
        foreach (var i in Enumerable.Range(0, eids.Count).OrderByDescending(i => home[i]).Take(12))
        {
            var o = homeOutcomes[i];
            var inSteps = o.Steps.Sum(s => s.Elapsed.TotalMilliseconds);
            Console.WriteLine(Invariant($"  slow home #{i}: {home[i]:F2} ms (saga {o.Total.TotalMilliseconds:F2}, outside steps {home[i] - inSteps:F2}): {string.Join(", ", o.Steps.Select(s => Invariant($"{s.Step} {s.Elapsed.TotalMilliseconds:F2}")))}"));
        }
        return failed == 0 ? 0 : 1;
    }

    private static async Task<int> FailoverAsync(MobilityCoordinator coordinator, List<IPAddress> eids)
    {
        // CPU time of the whole process (Map-Server, both xTRs, coordinator, journal) next to the wall clock: on a shared machine
        // the wall clock says what others left us, the CPU time what the failover itself costs.
        var cpu = Environment.CpuUsage.TotalTime;
        var over = await coordinator.FailoverAsync("dc1", "dc2");
        var overCpu = Environment.CpuUsage.TotalTime - cpu;
        Console.WriteLine(Invariant($"failover DC1 -> DC2: {over.Moves.Count} moved, {over.Verified.Count} verified by Map-Request, {over.NotConverged.Count} not converged, {over.Elapsed.TotalMilliseconds:F0} ms (CPU {overCpu.TotalMilliseconds:F0} ms)"));
        cpu = Environment.CpuUsage.TotalTime;
        var back = await coordinator.FailoverAsync("dc2", "dc1");
        var backCpu = Environment.CpuUsage.TotalTime - cpu;
        Console.WriteLine(Invariant($"failback DC2 -> DC1: {back.Moves.Count} moved, {back.Verified.Count} verified by Map-Request, {back.NotConverged.Count} not converged, {back.Elapsed.TotalMilliseconds:F0} ms (CPU {backCpu.TotalMilliseconds:F0} ms)"));
        foreach (var (name, report) in new[] { ("failover", over), ("failback", back) })
        {
            Console.WriteLine(Invariant($"  {name} saga total per EID: {Summary([.. report.Moves.Select(m => m.Total.TotalMilliseconds)])}"));
            foreach (var step in report.Moves.SelectMany(m => m.Steps).GroupBy(s => s.Step))
            {
                Console.WriteLine(Invariant($"    step {step.Key,-20} {Summary([.. step.Select(s => s.Elapsed.TotalMilliseconds)])}"));
            }
        }

        foreach (var (eid, reason) in over.NotConverged.Concat(back.NotConverged).Take(5)) Console.WriteLine($"  {eid}: {reason}");
        return over.Converged && back.Converged && over.Verified.Count == eids.Count && back.Verified.Count == eids.Count ? 0 : 1;
    }

    private static SiteOptions Site(string name, params (string Prefix, bool MoreSpecifics)[] prefixes) => new()
    {
        Name = name,
        EidPrefixes = prefixes.Select(p => new SiteEidPrefixOptions { Prefix = p.Prefix, AcceptMoreSpecifics = p.MoreSpecifics }).ToList(),
        Keys = [new SiteKeyOptions { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = name + "-secret" }],
    };

    private static XtrOptions Xtr(string site, int n, string aggregate) => new()
    {
        Site = site,
        Listen = [Invariant($"{Net}.{n}:4342")],
        Rlocs = [new() { Address = Invariant($"{Net}.{n}") }],
        MapServers = [new() { Address = $"{Net}.100:4342", KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = site + "-secret" }],
        MapResolvers = [$"{Net}.100:4342"],
        DatabaseMappings = [aggregate],
        DynamicEids = [new() { Name = "vm", Prefix = "172.16.0.0/12", Interface = "vm0" }],
    };

    private static string Summary(double[] samples)
    {
        var sorted = samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return Invariant($"p50 {P(0.50):F2} ms, p90 {P(0.90):F2} ms, p99 {P(0.99):F2} ms, max {sorted[^1]:F2} ms");
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
