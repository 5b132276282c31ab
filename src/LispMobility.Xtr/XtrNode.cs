using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Platform;
using LispMobility.Platform.DataPlane;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Configuration;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.DataPlane;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Xtr;

/// <summary>
/// The xTR as the rest of the agent uses it: the engine on its UDP sockets, with awaitable operations
/// (register a host, withdraw it, resolve an EID, solicit remote ITRs), and the engine's route changes applied to the
/// route table by a <see cref="RouteProgrammer"/>, off the receive path.
/// </summary>
public sealed class XtrNode : ITunnelRouter, IXtrStatus, IAsyncDisposable
{
    private readonly UdpDatagramTransport _transport;
    private readonly IRouteTable _routes;
    private readonly RouteProgrammer _programmer;
    private readonly object _sendGate = new();
    private readonly XtrOperations _operations;

    /// <summary>Binds the sockets (a port in use fails here, naming the address).</summary>
    public XtrNode(XtrOptions options, IRouteTable routes, ILoggerFactory? loggers = null, TimeProvider? time = null, NonceSource? nonces = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggers ??= NullLoggerFactory.Instance;
        _routes = routes ?? throw new ArgumentNullException(nameof(routes));
        _programmer = new RouteProgrammer(routes, loggers.CreateLogger<RouteProgrammer>());
        Engine = new XtrEngine(options, _programmer, time, nonces, loggers.CreateLogger<XtrEngine>());
        _time = time ?? TimeProvider.System;
        Engine.EventRaised += (_, e) => EventRaised?.Invoke(this, e);
        _programmer.Failed += (_, f) => EventRaised?.Invoke(this, new RouteProgrammingFailed(_time.GetUtcNow(), EidPrefix.Host(LispAddress.FromIPAddress(f.Change.Address)), f.Change, f.Error.Message, f.Attempts));
        _operations = new XtrOperations(Engine, new Shell(this), options.ResolveTimeout, _time);
        if (options.DataPlane.Enabled && OperatingSystem.IsLinux())
        {
            DataPlane = new DataPlaneHost(options, Engine, new Signals(this), time, loggers.CreateLogger<DataPlaneHost>());
        }

        _transport = new UdpDatagramTransport(new InOrder(this), options.EffectiveListen.Select(IPEndPoint.Parse), loggers.CreateLogger<UdpDatagramTransport>());
        if (Engine.MapNotifyGroups.Count > 0)
        {
            // The groups are joined, and multicast sent, on the interface of the first IPv4 address the xTR listens on (its RLOC
            // on the stretched LAN), or of its first IPv4 RLOC when it listens on every address.
            var local = _transport.LocalEndpoints.Select(e => e.Address).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !a.Equals(IPAddress.Any))
                ?? options.Rlocs.Select(r => IPAddress.Parse(r.Address)).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new ArgumentException("a map-notify group needs an IPv4 listen address or RLOC to join it on", nameof(options));
            try
            {
                _transport.JoinGroups(Engine.MapNotifyGroups, local);
            }
            catch
            {
                _transport.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }
    }

    private readonly TimeProvider _time;

    // The protocol engine; the rest of the agent reads it through IXtrStatus and drives it through ITunnelRouter.
    internal XtrEngine Engine { get; }

    /// <inheritdoc />
    public IRouteProgrammingStatus RouteProgramming => _programmer;

    /// <inheritdoc />
    public event EventHandler<XtrEvent>? EventRaised;

    /// <inheritdoc />
    public UInt128 XtrId => Engine.XtrId;

    /// <inheritdoc />
    public XtrCounters Counters => Engine.Counters;

    /// <inheritdoc />
    public IReadOnlyList<HostInfo> Hosts() => Engine.Hosts();

    /// <inheritdoc />
    public IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged, DateTimeOffset? LastSent)> MapServerStatus() => Engine.MapServerStatus();

    /// <inheritdoc />
    public IReadOnlyList<MapCacheEntry> MapCacheEntries() => Engine.MapCacheEntries();

    /// <inheritdoc/>
    public IReadOnlyList<RemoteRloc> RemoteRlocs() => Engine.RemoteRlocStatus();

    /// <inheritdoc />
    public MapCacheEntry? LookupMapCache(IPAddress address) => Engine.LookupMapCache(address);

    /// <inheritdoc cref="XtrEngine.ClearMapCache"/>
    public IReadOnlyList<EidPrefix> ClearMapCache(EidPrefix? filter = null) => Engine.ClearMapCache(filter);

    /// <inheritdoc />
    public string? RangeOf(IPAddress address) => Engine.RangeOf(address);

    /// <summary>The data plane, when enabled (Linux only); null when the site's routers carry traffic.</summary>
    public DataPlaneHost? DataPlane { get; }

    /// <inheritdoc />
    public string Site => Engine.Site;

    /// <inheritdoc />
    public IReadOnlyList<Lisp.Records.Locator> Rlocs => Engine.Rlocs;

    /// <inheritdoc />
    public HostInfo? HostOf(IPAddress eid) => Engine.HostOf(eid);

    /// <summary>The bound endpoints.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints => _transport.LocalEndpoints;

    /// <summary>
    /// The EIDs a crashed run held away (its blackhole routes, found at <see cref="Start"/>): a VM may have come back while
    /// the agent was down and announced itself before it restarted, so only a probe can tell whether it is here.
    /// </summary>
    public IReadOnlyList<IPAddress> HeldAwayByLastRun { get; private set; } = [];

    /// <summary>Removes what a crashed run left in the route table, starts the loops and registers the database.</summary>
    public void Start()
    {
        HeldAwayByLastRun = [.. _routes.RemoveAll().Where(r => r.Kind == HostRouteKind.Blackhole).Select(r => r.Address)];
        Engine.ControlPort = _transport.LocalEndpoints[0].Port;
        _transport.Start();
        Run(sink => Engine.RegisterNow(sink));
        if (OperatingSystem.IsLinux()) DataPlane?.Start();
    }

    /// <inheritdoc cref="XtrEngine.BeginRegisterHost"/>
    public Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default) =>
        _operations.RegisterHostAsync(eid, range, cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHost"/>
    public Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        _operations.WithdrawHostAsync(eid, removeRoute, cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginRegisterHosts"/>
    public Task<RegistrationResult>[] RegisterHostsAsync(IReadOnlyList<IPAddress> eids, string? range = null, CancellationToken cancellationToken = default) =>
        _operations.RegisterHostsAsync(eids, range, cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHosts"/>
    public Task[] WithdrawHostsAsync(IReadOnlyList<IPAddress> eids, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        _operations.WithdrawHostsAsync(eids, removeRoute, cancellationToken);

    /// <inheritdoc cref="XtrOperations.ResolveAsync"/>
    public Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default) =>
        _operations.ResolveAsync(eid, refresh, cancellationToken);

    /// <inheritdoc cref="XtrOperations.ResolveManyAsync"/>
    public Task<IReadOnlyList<Resolution>> ResolveManyAsync(IReadOnlyList<IPAddress> eids, bool refresh = false, CancellationToken cancellationToken = default) =>
        _operations.ResolveManyAsync(eids, refresh, cancellationToken);

    /// <inheritdoc />
    public Task<TimeSpan?> ProbeRlocAsync(IPAddress rloc, IPAddress eid, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _operations.ProbeRlocAsync(rloc, eid, timeout, cancellationToken);

    /// <inheritdoc cref="XtrEngine.SolicitRemoteItrs"/>
    public int SolicitRemoteItrs(IPAddress eid) => _operations.SolicitRemoteItrs(eid);

    /// <inheritdoc />
    public void HoldAway(IPAddress eid, MapCacheEntry mapping) => _operations.HoldAway(eid, mapping);

    // Map-Register nonces must reach the Map-Server in increasing order (it drops a smaller one as a replay), and they
    // are drawn when a message is built: every engine call and the sending of what it built happen as one step.
    private T Run<T>(Func<IDatagramSink, T> call)
    {
        T result;
        lock (_sendGate)
        {
            var outgoing = new DatagramList();
            try
            {
                result = call(outgoing);
            }
            finally
            {
                // What the call queued before a fault still leaves (it may be a Map-Register the engine counts as sent).
                _transport.Flush(outgoing);
            }
        }

        _transport.Wake();
        return result;
    }

    /// <summary>The API's calls into the engine, in the same order as the transport's.</summary>
    private sealed class Shell(XtrNode node) : IXtrShell
    {
        public T Run<T>(Func<IDatagramSink, T> call) => node.Run(call);
    }

    /// <summary>The engine as the transport drives it, through the same ordering as the API calls.</summary>
    private sealed class InOrder(XtrNode node) : IDatagramEngine
    {
        public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
        {
            lock (node._sendGate)
            {
                var outgoing = new DatagramList();
                try
                {
                    node.Engine.Receive(datagram, source, outgoing);
                }
                finally
                {
                    node._transport.Flush(outgoing);
                }
            }
        }

        public TimeSpan? OnTimer(IDatagramSink sink)
        {
            lock (node._sendGate)
            {
                var outgoing = new DatagramList();
                try
                {
                    return node.Engine.OnTimer(outgoing);
                }
                finally
                {
                    node._transport.Flush(outgoing);
                }
            }
        }
    }

    private void Run(Action<IDatagramSink> call) => Run<object?>(sink => { call(sink); return null; });

    /// <summary>The data plane's slow paths into the engine: a miss resolves, data for an away EID solicits its ITR.</summary>
    private sealed class Signals(XtrNode node) : IDataPlaneSignals
    {
        public void MapCacheMiss(LispAddress destination)
        {
            try
            {
                // The packet is already dropped and counted; the resolution's outcome lands in the map-cache.
                node.Run(sink => node.Engine.BeginResolve(destination.ToIPAddress(), sink))
                    .ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // No resolver, or a stopping node: the next miss asks again.
                _ = e;
            }
        }

        public void LocatorStatusBits(LispAddress sourceEid, uint bits, int width)
        {
            try
            {
                node.Run(sink => node.Engine.TakeLocatorStatusBits(sourceEid, bits, width, sink));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _ = e;
            }
        }

        public void SolicitItr(LispAddress itrRloc, LispAddress eid)
        {
            try
            {
                node.Run(sink => node.Engine.SolicitItr(itrRloc.ToIPAddress(), eid.ToIPAddress(), sink));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _ = e;
            }
        }
    }

    /// <summary>Stops the loops and removes every route this run installed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (OperatingSystem.IsLinux()) DataPlane?.Dispose();
        await _transport.DisposeAsync().ConfigureAwait(false);
        await _programmer.DisposeAsync().ConfigureAwait(false);
        try
        {
            _routes.RemoveAll();
        }
        catch (RouteTableException)
        {
            // Logged by the route table; shutting down regardless.
        }
    }
}
