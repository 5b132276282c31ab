using System.Net;
using LispMobility.Fabric;
using LispMobility.Lisp.Addressing;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.Platform;
using LispMobility.Platform.Routing;
using LispMobility.TestSupport.Simulation;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// <see cref="MobilityLab"/>'s sites (the same configuration) as sans-I/O engines on the simulated network, with a manual
/// clock: the Map-Server engine, and DC1, DC2 and the branch as <see cref="XtrEngine"/>s driven through
/// <see cref="XtrOperations"/> (the operations <see cref="XtrNode"/> offers on UDP). A datagram is delivered within the call
/// that sent it, so a saga converges without any wait, and nothing happens on a timer unless the test moves the clock. Route
/// changes are applied at once to each site's in-memory table.
/// </summary>
internal sealed class SimulatedMobilityLab : IAsyncDisposable
{
    private readonly MobilityLab _config = MobilityLab.Unstarted();
    private readonly Dictionary<string, Node> _nodes = [];

    private SimulatedMobilityLab()
    {
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));

    public SimulatedNetwork Network { get; } = new();

    public MappingSystem.MapServer Server { get; private set; } = null!;

    /// <summary>Each site's xTR as the coordinator drives it.</summary>
    public Dictionary<string, XtrOperations> Xtrs { get; } = [];

    public Dictionary<string, InMemoryRouteTable> Routes { get; } = [];

    public string Database => _config.Database;

    public string Rloc(string site) => _config.Rloc(site);

    /// <summary>The Map-Server and the three xTRs, each aggregate registered.</summary>
    public static SimulatedMobilityLab Start()
    {
        var lab = new SimulatedMobilityLab();
        var options = lab._config.MapServerOptions();
        lab.Server = new MappingSystem.MapServer(options, lab.Time);
        lab.Network.Attach(IPEndPoint.Parse(options.Listen[0]), lab.Server);
        foreach (var site in new[] { MobilityLab.Dc1, MobilityLab.Dc2, MobilityLab.Branch }) lab.StartXtr(site);
        if (lab.Server.RegistrationCount < 4) throw new InvalidOperationException($"{lab.Server.RegistrationCount} aggregates registered, not 4");
        return lab;
    }

    /// <summary>The site's xTR started afresh (after a crash): no host state, a new route table; it registers its database.</summary>
    public XtrOperations StartXtr(string site, Func<XtrOptions, XtrOptions>? change = null)
    {
        var options = _config.XtrOptions(site);
        options = change?.Invoke(options) ?? options;
        Routes[site] = new InMemoryRouteTable();
        var endpoint = IPEndPoint.Parse(options.Listen[0]);
        var node = new Node(Network, endpoint, new XtrEngine(options, Routes[site], Time) { ControlPort = endpoint.Port });
        _nodes[site] = node;
        Xtrs[site] = new XtrOperations(node.Engine, node, options.ResolveTimeout, Time);
        Network.Attach(node.Endpoint, node.Engine);
        node.Run(sink =>
        {
            node.Engine.RegisterNow(sink);
            return 0;
        });
        return Xtrs[site];
    }

    /// <summary>The site's xTR stops (its process killed): what is sent to it is lost.</summary>
    public void StopXtr(string site) => Network.Detach(_nodes[site].Endpoint);

    public MobilityOptions MobilityOptions(GatewayOptions? gateway = null) => _config.MobilityOptions(gateway);

    public MobilityStore OpenStore(string? file = null) => _config.OpenStore(file);

    /// <summary>A coordinator over DC1 and DC2, each router optionally wrapped (fault injection). Its own back-off runs on the real clock.</summary>
    public MobilityCoordinator Coordinator(MobilityStore? store = null, Func<ITunnelRouter, ITunnelRouter>? wrap = null, MobilityOptions? options = null,
        IReadOnlyDictionary<string, IReadOnlyList<IGatewayDriver>>? gateways = null)
    {
        wrap ??= r => r;
        var routers = new Dictionary<string, ITunnelRouter> { [MobilityLab.Dc1] = wrap(Xtrs[MobilityLab.Dc1]), [MobilityLab.Dc2] = wrap(Xtrs[MobilityLab.Dc2]) };
        return new MobilityCoordinator(options ?? MobilityOptions(), routers, store ?? OpenStore(), gateways);
    }

    /// <summary>An agent that drives only <paramref name="site"/>'s xTR, with a journal of its own.</summary>
    public MobilityCoordinator AgentOf(string site, string journal) =>
        new(MobilityOptions(), new Dictionary<string, ITunnelRouter> { [site] = Xtrs[site] }, OpenStore(journal));

    /// <summary>The /32 registration of <paramref name="eid"/> at the Map-Server, or null.</summary>
    public string? HostRegistrationSite(IPAddress eid) =>
        Server.ListRegistrations().FirstOrDefault(r => r.Eid.IsHost && r.Eid.Address == LispAddress.FromIPAddress(eid))?.Site;

    /// <summary>What the branch ITR learns for <paramref name="eid"/> from the Map-Resolver: the EID prefix and its RLOCs.</summary>
    public async Task<(string Prefix, string Rlocs)> LookupFromBranchAsync(IPAddress eid)
    {
        var entry = await Xtrs[MobilityLab.Branch].ResolveAsync(eid, refresh: true);
        return (entry.Eid.ToString(), string.Join(",", entry.Locators.Select(l => l.Address)));
    }

    /// <summary>
    /// For a test that waits out a timeout: moves the manual clock on by <paramref name="step"/>, running every engine's timers
    /// after each step, until <paramref name="work"/> completes. Between steps the domain's continuations (on the thread pool)
    /// get a moment to run; the clock moves only while the work waits.
    /// </summary>
    public async Task<T> AdvanceUntilAsync<T>(Task<T> work, TimeSpan step, int maxSteps = 1000)
    {
        for (var i = 0; i < maxSteps && !work.IsCompleted; i++)
        {
            await Task.WhenAny(work, Task.Delay(5));
            if (work.IsCompleted) break;
            Time.Advance(step);
            Network.Tick();
        }

        return await work;
    }

    public ValueTask DisposeAsync() => _config.DisposeAsync();

    /// <summary>An xTR engine's calls delivered on the simulated network, one call and what follows it at a time.</summary>
    private sealed class Node(SimulatedNetwork network, IPEndPoint endpoint, XtrEngine engine) : IXtrShell
    {
        public IPEndPoint Endpoint { get; } = endpoint;

        public XtrEngine Engine { get; } = engine;

        public T Run<T>(Func<IDatagramSink, T> call) => network.Call(Endpoint, call);
    }
}
