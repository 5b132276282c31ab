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
    private readonly TimeSpan _resolveTimeout;

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
        _resolveTimeout = options.ResolveTimeout;
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
    public IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged)> MapServerStatus() => Engine.MapServerStatus();

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
    public HostState? StateOf(IPAddress eid) => Engine.StateOf(eid);

    /// <summary>The bound endpoints.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints => _transport.LocalEndpoints;

    /// <summary>Removes what a crashed run left in the route table, starts the loops and registers the database.</summary>
    public void Start()
    {
        _routes.RemoveAll();
        Engine.ControlPort = _transport.LocalEndpoints[0].Port;
        _transport.Start();
        Run(sink => Engine.RegisterNow(sink));
        if (OperatingSystem.IsLinux()) DataPlane?.Start();
    }

    /// <inheritdoc cref="XtrEngine.BeginRegisterHost"/>
    public Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default) =>
        Run(sink => Engine.BeginRegisterHost(eid, range, sink)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHost"/>
    public Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        Run(sink => Engine.BeginWithdrawHost(eid, sink, removeRoute)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginRegisterHosts"/>
    public Task<RegistrationResult>[] RegisterHostsAsync(IReadOnlyList<IPAddress> eids, string? range = null, CancellationToken cancellationToken = default) =>
        Array.ConvertAll(Run(sink => Engine.BeginRegisterHosts(eids, range, sink)), t => t.WaitAsync(cancellationToken));

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHosts"/>
    public Task[] WithdrawHostsAsync(IReadOnlyList<IPAddress> eids, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        Array.ConvertAll(Run(sink => Engine.BeginWithdrawHosts(eids, sink, removeRoute)), t => t.WaitAsync(cancellationToken));

    /// <inheritdoc cref="XtrEngine.BeginResolve"/>
    /// <remarks>Fails with <see cref="TimeoutException"/> after <see cref="XtrOptions.ResolveTimeout"/>; the engine keeps asking at its own pace.</remarks>
    public async Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Run(sink => Engine.BeginResolve(eid, sink, refresh)).WaitAsync(_resolveTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"no Map-Reply for {eid} within {_resolveTimeout.TotalSeconds:0.#} s", e);
        }
    }

    /// <inheritdoc />
    /// <remarks>One timeout for the whole set, <see cref="XtrOptions.ResolveTimeout"/> from the call; the engine keeps asking at its own pace.</remarks>
    public async Task<IReadOnlyList<Resolution>> ResolveManyAsync(IReadOnlyList<IPAddress> eids, bool refresh = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eids);
        var pending = Run(sink =>
        {
            var tasks = new Task<MapCacheEntry>[eids.Count];
            for (var i = 0; i < tasks.Length; i++) tasks[i] = Engine.BeginResolve(eids[i], sink, refresh);
            return tasks;
        });

        // One wait for the set, not one (and a timer) per EID; what each got is read from its task afterwards.
        try
        {
            await Task.WhenAll(pending).WaitAsync(_resolveTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A timeout or some EIDs failing: reported per EID below.
        }

        var results = new Resolution[pending.Length];
        for (var i = 0; i < pending.Length; i++)
        {
            var t = pending[i];
            results[i] = t.IsCompletedSuccessfully ? new Resolution(t.Result, null)
                : t.IsFaulted ? new Resolution(null, t.Exception!.InnerException ?? t.Exception)
                : new Resolution(null, new TimeoutException($"no Map-Reply for {eids[i]} within {_resolveTimeout.TotalSeconds:0.#} s"));
        }

        return results;
    }

    /// <inheritdoc cref="XtrEngine.SolicitRemoteItrs"/>
    public int SolicitRemoteItrs(IPAddress eid) => Run(sink => Engine.SolicitRemoteItrs(eid, sink));

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
