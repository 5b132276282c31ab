using System.Net;
using LispMobility.Lisp;
using LispMobility.Transport;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Configuration;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Xtr;

/// <summary>
/// The xTR as the rest of the agent uses it: the engine on its UDP sockets, with awaitable operations
/// (register a host, withdraw it, resolve an EID, solicit remote ITRs).
/// </summary>
public sealed class XtrNode : ITunnelRouter, IAsyncDisposable
{
    private readonly UdpDatagramTransport _transport;
    private readonly IRouteTable _routes;
    private readonly object _sendGate = new();
    private readonly TimeSpan _resolveTimeout;

    /// <summary>Binds the sockets (a port in use fails here, naming the address).</summary>
    public XtrNode(XtrOptions options, IRouteTable routes, ILoggerFactory? loggers = null, TimeProvider? time = null, NonceSource? nonces = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggers ??= NullLoggerFactory.Instance;
        _routes = routes ?? throw new ArgumentNullException(nameof(routes));
        Engine = new XtrEngine(options, routes, time, nonces, loggers.CreateLogger<XtrEngine>());
        _resolveTimeout = options.ResolveTimeout;
        _transport = new UdpDatagramTransport(new InOrder(this), options.EffectiveListen.Select(IPEndPoint.Parse), loggers.CreateLogger<UdpDatagramTransport>());
    }

    /// <summary>The protocol engine (state, counters, events).</summary>
    public XtrEngine Engine { get; }

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
    }

    /// <inheritdoc cref="XtrEngine.BeginRegisterHost"/>
    public Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default) =>
        Run(sink => Engine.BeginRegisterHost(eid, range, sink)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginWithdrawHost"/>
    public Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default) =>
        Run(sink => Engine.BeginWithdrawHost(eid, sink, removeRoute)).WaitAsync(cancellationToken);

    /// <inheritdoc cref="XtrEngine.BeginResolve"/>
    /// <remarks>Fails with <see cref="TimeoutException"/> after <see cref="XtrOptions.ResolveTimeout"/>; the engine keeps asking at its own pace.</remarks>
    public Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default) =>
        Run(sink => Engine.BeginResolve(eid, sink, refresh)).WaitAsync(_resolveTimeout, cancellationToken);

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
            result = call(outgoing);
            _transport.Flush(outgoing);
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
                node.Engine.Receive(datagram, source, outgoing);
                node._transport.Flush(outgoing);
            }
        }

        public TimeSpan? OnTimer(IDatagramSink sink)
        {
            lock (node._sendGate)
            {
                var outgoing = new DatagramList();
                var next = node.Engine.OnTimer(outgoing);
                node._transport.Flush(outgoing);
                return next;
            }
        }
    }

    private void Run(Action<IDatagramSink> call) => Run<object?>(sink => { call(sink); return null; });

    /// <summary>Stops the loops and removes every route this run installed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _transport.DisposeAsync().ConfigureAwait(false);
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
