using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Platform;
using LispMobility.Platform.Routing;
using LispMobility.Watchers.DataPlane;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Xtr.DataPlane;

namespace LispMobility.Agent.Service;

/// <summary>What the warm-up did: its moves' outcomes, the data packets its throwaway ETRs delivered, and how long it took.</summary>
internal sealed record WarmUpReport(IReadOnlyList<MoveOutcome> Moves, int DataPackets, TimeSpan Took)
{
    /// <summary>True when every move of the warm-up converged (the whole path ran).</summary>
    public bool Converged => Moves.Count > 0 && Moves.All(m => m.Converged);
}

/// <summary>
/// The move path run at start on throwaway copies of everything it touches, so that the first real move does not pay for
/// first use (JIT, type loading, the first SQLite statements: 100-200 ms of a first move in the netns lab, docs/benchmarks.md).
/// A Map-Server engine and three xTR engines (home, away, a branch that asked for the EID) joined by an in-memory wire, the
/// data-plane watcher's frame handling, a detector and a coordinator over them with a journal in memory: a VM's announce
/// (an IPv4 and an IPv6 EID) is detected away from home and the VM moved there, then back home, each move through every
/// step (registration and Map-Notify, the home site's news and away state, the Map-Server's SMR and the branch's new
/// Map-Request, the check through the Map-Resolver). Nothing reaches a socket, a route table, the agent's journal, audit
/// history, metrics or log: every engine, store and route table here is its own and dropped after. The engines' answers
/// arrive a moment after each call, so the awaits suspend as on a network; then, where the xTR runs a data plane, its per-packet
/// path runs on throwaway engines too (<see cref="DataPlaneWarmUp"/>).
/// </summary>
internal static class MoveWarmUp
{
    private const string Home = "warm-up-home", Away = "warm-up-away", Branch = "warm-up-branch", Range = "warm-up", Range6 = "warm-up6";

    // Documentation addresses (RFC 5737, RFC 3849): they are never sent anywhere, and name nothing real if they were.
    private static readonly IPEndPoint MapServerAt = IPEndPoint.Parse("203.0.113.100:4342");
    private static readonly IReadOnlyDictionary<string, string> Rlocs = new Dictionary<string, string>
    {
        [Home] = "203.0.113.1", [Away] = "203.0.113.2", [Branch] = "203.0.113.3",
    };

    /// <summary>The EIDs the warm-up moves (in its own ranges, which no agent's configuration sees).</summary>
    public static readonly IReadOnlyList<IPAddress> Eids = [IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8:ffff::10")];

    /// <summary>
    /// Runs the warm-up with the agent's step retries (<paramref name="agent"/>), and the data plane's when this agent's xTR
    /// runs one (<paramref name="dataPlane"/>; a Windows host's does not); throws only when cancelled.
    /// </summary>
    public static async Task<WarmUpReport> RunAsync(MobilityOptions agent, bool dataPlane, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        // A few dozen datagrams at most per call; the bound keeps a misbehaving exchange from looping.
        var wire = new InMemoryWire(maxDeliveriesPerCall: 1000);
        wire.Attach(MapServerAt, new MapServer(MapServerOptions()));
        var routers = new Dictionary<string, ITunnelRouter>();
        foreach (var site in new[] { Home, Away, Branch })
        {
            var options = XtrOptions(site);
            var at = IPEndPoint.Parse(options.Listen[0]);
            var engine = new XtrEngine(options, new InMemoryRouteTable()) { ControlPort = at.Port };
            wire.Attach(at, engine);
            wire.Call(at, sink =>
            {
                engine.RegisterNow(sink);
                return 0;
            });
            routers[site] = new XtrOperations(engine, new Shell(wire, at), options.ResolveTimeout);
        }

        var branch = routers[Branch];
        routers.Remove(Branch);
        var mobility = agent with { Database = ":memory:", HoldDown = TimeSpan.Zero, Ranges = [RangeOptions(Range, "192.0.2.0/24"), RangeOptions(Range6, "2001:db8:ffff::/64")] };
        using var store = new MobilityStore(":memory:");
        var coordinator = new MobilityCoordinator(mobility, routers, store);
        var detector = new MoveDetector(coordinator, TimeSpan.Zero);
        var moves = new List<MoveOutcome>();

        // The branch talks to the VM, so the Map-Server solicits it when the VM moves.
        foreach (var eid in Eids) await branch.ResolveAsync(eid, cancellationToken: cancellationToken).ConfigureAwait(false);

        // Away from home as the data-plane watcher reports a VM's announce (GARP, unsolicited NA); then home again as the
        // coordinator is asked directly.
        foreach (var seen in DataPlaneWatcher.WarmUp(Away, PhysicalAddress.Parse("02-00-00-00-00-01"), Eids))
        {
            foreach (var detection in detector.Observe(seen))
            {
                if (detection.Move is { } move) moves.Add(await move.WaitAsync(cancellationToken).ConfigureAwait(false));
            }
        }

        foreach (var eid in Eids)
        {
            moves.Add(await coordinator.MoveAsync(new MoveIntent(eid, "warm-up", Away, Home, "warm-up", "warm-up"), cancellationToken).ConfigureAwait(false));
        }

        // The new site's first data packets of a move, both ways (DataPlaneWarmUp).
        var packets = dataPlane ? DataPlaneWarmUp.Run(DateTimeOffset.UtcNow) : 0;
        return new WarmUpReport(moves, packets, watch.Elapsed);
    }

    private static DynamicEidRangeOptions RangeOptions(string name, string prefix) => new() { Name = name, Prefix = prefix, HomeSite = Home, Sites = [Home, Away] };

    private static MapServerOptions MapServerOptions() => new()
    {
        Listen = [MapServerAt.ToString()],
        Sites =
        [
            Site(Home, ("192.0.2.0/24", true), ("2001:db8:ffff::/64", true)),
            Site(Away, ("192.0.2.0/24", true), ("2001:db8:ffff::/64", true)),
            Site(Branch, ("198.51.100.0/24", false)),
        ],
    };

    private static SiteOptions Site(string name, params (string Prefix, bool MoreSpecifics)[] prefixes) => new()
    {
        Name = name,
        EidPrefixes = prefixes.Select(p => new SiteEidPrefixOptions { Prefix = p.Prefix, AcceptMoreSpecifics = p.MoreSpecifics }).ToList(),
        Keys = [new SiteKeyOptions { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = name }],
    };

    private static XtrOptions XtrOptions(string site) => new()
    {
        Site = site,
        Listen = [$"{Rlocs[site]}:4342"],
        Rlocs = [new LocatorOptions { Address = Rlocs[site] }],
        MapServers = [new MapServerPeerOptions { Address = MapServerAt.ToString(), KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = site }],
        MapResolvers = [MapServerAt.ToString()],
        DatabaseMappings = site switch { Home => ["192.0.2.0/24", "2001:db8:ffff::/64"], Branch => ["198.51.100.0/24"], _ => [] },
        DynamicEids = site == Branch ? [] : [new DynamicEidOptions { Name = Range, Prefix = "192.0.2.0/24" }, new DynamicEidOptions { Name = Range6, Prefix = "2001:db8:ffff::/64" }],
    };

    /// <summary>An xTR's shell on the in-memory wire that delivers what each call sends a moment after the call returns.</summary>
    internal sealed class Shell(InMemoryWire wire, IPEndPoint at) : IXtrShell
    {
        public T Run<T>(Func<IDatagramSink, T> call)
        {
            // Not within the call: the caller's await then finds its answer pending and suspends, as on a real network, so the
            // suspension's code (the async state machines' boxes over every awaiting method of the move path, most of what a
            // first move compiled) is compiled here and not in the first move.
            var queued = new DatagramList();
            // The engine may reuse a payload's buffer once the call returns: each is copied before it waits.
            var result = wire.Call(at, _ => call(new CopyingSink(queued)));
            if (queued.Items.Count > 0) _ = DeliverSoonAsync(queued);
            return result;
        }

        private async Task DeliverSoonAsync(DatagramList queued)
        {
            await Task.Delay(1).ConfigureAwait(false);
            wire.Send(at, queued);
        }
    }

    private sealed class CopyingSink(DatagramList into) : IDatagramSink
    {
        public void Send(ReadOnlyMemory<byte> payload, IPEndPoint destination) => into.Send(payload.ToArray(), destination);
    }
}
