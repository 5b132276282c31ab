using System.Diagnostics;
using System.Net;
using LispMobility.Fabric;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// The real mapping system and three real xTRs on loopback: a Map-Server/Resolver on 127.40.N.1, DC1 (home of the dynamic
/// range "vm" 172.16.0.0/16 and of the DC1-only range "db" 172.17.0.0/16) on 127.40.N.11, DC2 on 127.40.N.12 and a branch
/// (remote ITR, not driven by the coordinator) on 127.40.N.13, all on port 4342. Each lab takes its own N, so test classes
/// running in parallel never share a socket. The SQLite journal lives in a temporary directory deleted on dispose.
/// </summary>
internal sealed class MobilityLab : IAsyncDisposable
{
    public const string Dc1 = "dc1", Dc2 = "dc2", Branch = "branch", Dc3 = "dc3";
    public const string VmRange = "vm", DbRange = "db";

    private static int _nextNet;
    private readonly string _directory = Directory.CreateTempSubdirectory("lm-mobility-").FullName;
    private readonly List<MobilityStore> _stores = [];

    private readonly TimeSpan? _registerInterval;

    private MobilityLab(int net, TimeSpan? registerInterval)
    {
        Net = net;
        _registerInterval = registerInterval;
    }

    public int Net { get; }

    public string MsAddress => $"127.40.{Net}.1";

    public string Rloc(string site) => site switch { Dc1 => $"127.40.{Net}.11", Dc2 => $"127.40.{Net}.12", _ => $"127.40.{Net}.13" };

    public MapServerService MapServer { get; private set; } = null!;

    public Dictionary<string, XtrNode> Xtrs { get; } = [];

    public Dictionary<string, InMemoryRouteTable> Routes { get; } = [];

    public string Database => Path.Combine(_directory, "mobility.db");

    /// <summary>
    /// Starts the Map-Server and the three xTRs and waits until every aggregate is registered. A short
    /// <paramref name="registerInterval"/> makes the xTRs' periodic registration (what refills a restarted Map-Server) come soon.
    /// </summary>
    public static async Task<MobilityLab> StartAsync(TimeSpan? registerInterval = null)
    {
        var lab = new MobilityLab(Interlocked.Increment(ref _nextNet), registerInterval);
        try
        {
            await lab.StartMapServerAsync();
            foreach (var site in new[] { Dc1, Dc2, Branch }) lab.StartXtr(site);

            await Eventually(() => lab.MapServer.Server.RegistrationCount >= 4, "every site's aggregate registered");
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The lab's configuration, journal directory and stores without its sockets: what <see cref="SimulatedMobilityLab"/>
    /// runs on the simulated network (subnet 0, which no UDP lab takes: those count from 1).
    /// </summary>
    public static MobilityLab Unstarted() => new(0, null);

    /// <summary>
    /// A Map-Server with an empty registry on the lab's address (the first, or one restarted after an outage), on the lab's
    /// options or on <paramref name="options"/> (a site left out of them is refused: as if its Map-Registers were lost).
    /// </summary>
    public async Task StartMapServerAsync(MapServerOptions? options = null)
    {
        options ??= MapServerOptions();
        MapServer = new MapServerService(new MappingSystem.MapServer(options), options, NullLoggerFactory.Instance);
        await MapServer.StartAsync(default);
    }

    /// <summary>The Map-Server stops (its process killed): no answer, and its registry is lost.</summary>
    public async Task StopMapServerAsync() => await MapServer.DisposeAsync();

    /// <summary>The site's xTR started afresh (after a crash): no host state, a new route table.</summary>
    public XtrNode StartXtr(string site)
    {
        Routes[site] = new InMemoryRouteTable();
        var node = new XtrNode(XtrOptions(site), Routes[site]);
        Xtrs[site] = node;
        node.Start();
        return node;
    }

    public MapServerOptions MapServerOptions() => new()
    {
        Listen = [$"{MsAddress}:4342"],
        MapNotifyPort = 4342,
        NotifyRetransmitInterval = TimeSpan.FromMilliseconds(300),
        RequestsPerSecondPerRequester = 1_000_000,
        RequestBurstPerRequester = 1_000_000,
        Sites =
        [
            Site(Dc1, ("172.16.0.0/16", true), ("172.17.0.0/16", true)),
            Site(Dc2, ("10.2.0.0/16", false), ("172.16.0.0/16", true)),
            Site(Branch, ("10.3.0.0/16", false)),
        ],
    };

    public XtrOptions XtrOptions(string site) => new()
    {
        Site = site,
        Listen = [$"{Rloc(site)}:4342"],
        Rlocs = [new LocatorOptions { Address = Rloc(site) }],
        MapServers = [new MapServerPeerOptions { Address = $"{MsAddress}:4342", KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = Key(site) }],
        MapResolvers = [$"{MsAddress}:4342"],
        DatabaseMappings = site switch { Dc1 => ["172.16.0.0/16", "172.17.0.0/16"], Dc2 => ["10.2.0.0/16"], _ => ["10.3.0.0/16"] },
        DynamicEids = site switch
        {
            Dc1 => [new DynamicEidOptions { Name = VmRange, Prefix = "172.16.0.0/16", Interface = "vm0" }, new DynamicEidOptions { Name = DbRange, Prefix = "172.17.0.0/16", Interface = "vm0" }],
            Dc2 => [new DynamicEidOptions { Name = VmRange, Prefix = "172.16.0.0/16", Interface = "vm0" }],
            _ => [],
        },
        RegisterRetransmitInitial = TimeSpan.FromMilliseconds(300),
        RegisterDeadline = TimeSpan.FromSeconds(5),
        MapRequestInterval = TimeSpan.FromMilliseconds(300),
        RegisterInterval = _registerInterval ?? TimeSpan.FromSeconds(60),
        QuickRegisterInterval = _registerInterval ?? TimeSpan.FromSeconds(20),
    };

    /// <summary>"vm" may live at DC1 (home), DC2 and DC3 (served by another agent); "db" only at DC1.</summary>
    public MobilityOptions MobilityOptions(GatewayOptions? gateway = null) => new()
    {
        Database = Database,
        MaxParallelMoves = 64,
        StepAttempts = 3,
        StepBackoff = TimeSpan.FromMilliseconds(10),
        HoldDown = TimeSpan.FromSeconds(2),
        Ranges =
        [
            new DynamicEidRangeOptions { Name = VmRange, Prefix = "172.16.0.0/16", HomeSite = Dc1, Sites = [Dc1, Dc2, Dc3], Mode = MobilityMode.AcrossSubnet, Gateway = gateway },
            new DynamicEidRangeOptions { Name = DbRange, Prefix = "172.17.0.0/16", HomeSite = Dc1, Sites = [Dc1] },
        ],
    };

    /// <summary>A store over the lab's SQLite file (or another file in the lab's directory), closed when the lab is disposed.</summary>
    public MobilityStore OpenStore(string? file = null)
    {
        var store = new MobilityStore(file is null ? Database : Path.Combine(_directory, file));
        _stores.Add(store);
        return store;
    }

    /// <summary>A coordinator over DC1 and DC2, each router optionally wrapped (fault injection).</summary>
    public MobilityCoordinator Coordinator(MobilityStore? store = null, Func<ITunnelRouter, ITunnelRouter>? wrap = null, MobilityOptions? options = null,
        IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>>? gateways = null)
    {
        wrap ??= r => r;
        var routers = new Dictionary<string, ITunnelRouter> { [Dc1] = wrap(Xtrs[Dc1]), [Dc2] = wrap(Xtrs[Dc2]) };
        return new MobilityCoordinator(options ?? MobilityOptions(), routers, store ?? OpenStore(), gateways);
    }

    /// <summary>The /32 registration of <paramref name="eid"/> at the Map-Server, or null.</summary>
    public string? HostRegistrationSite(IPAddress eid) =>
        MapServer.Server.ListRegistrations().FirstOrDefault(r => r.Eid.IsHost && r.Eid.Address == LispAddress.FromIPAddress(eid))?.Site;

    /// <summary>What the branch ITR learns for <paramref name="eid"/> from the Map-Resolver: the EID prefix and its RLOCs.</summary>
    public async Task<(string Prefix, string Rlocs)> LookupFromBranchAsync(IPAddress eid)
    {
        var entry = await Xtrs[Branch].ResolveAsync(eid, refresh: true);
        return (entry.Eid.ToString(), string.Join(",", entry.Locators.Select(l => l.Address)));
    }

    public static async Task Eventually(Func<bool> condition, string what, double seconds = 10)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(seconds)) throw new TimeoutException($"not within {seconds} s: {what}");
            await Task.Delay(10);
        }
    }

    private static string Key(string site) => site + "-mobility-key";

    private static SiteOptions Site(string name, params (string Prefix, bool MoreSpecifics)[] prefixes) => new()
    {
        Name = name,
        EidPrefixes = prefixes.Select(p => new SiteEidPrefixOptions { Prefix = p.Prefix, AcceptMoreSpecifics = p.MoreSpecifics }).ToList(),
        Keys = [new SiteKeyOptions { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = Key(name) }],
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var x in Xtrs.Values) await x.DisposeAsync();
        if (MapServer is not null) await MapServer.DisposeAsync();
        foreach (var s in _stores) s.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
