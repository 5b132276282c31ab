using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace LispMobility.Platform;

/// <summary>
/// Runs an <see cref="IDatagramEngine"/> on UDP sockets: one receive loop per bound endpoint (IPv4 and
/// IPv6 alike), a timer loop, and a send path. On Linux a receive loop takes up to 64 datagrams per
/// recvmmsg and sends their replies with sendmmsg. A datagram that makes the engine throw is logged and
/// dropped; the loops never stop on network input.
/// </summary>
public sealed partial class UdpDatagramTransport : IAsyncDisposable
{
    /// <summary>The largest UDP payload a receive takes.</summary>
    internal const int MaxDatagram = 65535;
    private const int MaxCachedEndpoints = 4096;
    private readonly IDatagramEngine _engine;
    private readonly ILogger _logger;
    private const int SolSocket = 1, SoReusePort = 15; // Linux values; SocketOptionName has no SO_REUSEPORT
    private readonly List<Socket> _sockets = [];
    private readonly List<Socket> _primary = [];
    private readonly List<Socket> _groupSockets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly SemaphoreSlim _wake = new(0);
    private long _received;
    private long _sent;
    private long _sendErrors;
    private long _engineFaults;
    private long _segmentedSends;

    /// <summary>
    /// Binds every endpoint now, so that a port in use fails at start with the address in the message.
    /// With more than one receive loop, Linux gets one SO_REUSEPORT socket per loop: the kernel keeps each
    /// flow on one socket, so one sender's datagrams are handled in the order sent (a Map-Server's replay
    /// check drops a Map-Register overtaken by its successor). Elsewhere one socket and one loop.
    /// </summary>
    public UdpDatagramTransport(IDatagramEngine engine, IEnumerable<IPEndPoint> endpoints, ILogger logger, int receiveLoopsPerSocket = 1)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        ReceiveLoopsPerSocket = OperatingSystem.IsLinux() ? Math.Max(1, receiveLoopsPerSocket) : 1;
        try
        {
            foreach (var asked in endpoints)
            {
                var group = ReceiveLoopsPerSocket > 1;
                var endpoint = asked;

                // A group of SO_REUSEPORT sockets could silently share its port with another group: check the port is free first.
                // For port 0 too: the kernel may pick, for a SO_REUSEPORT socket, a port another such group of ours holds, so
                // the free port is taken without the option and the group formed on it.
                if (group)
                {
                    using var probe = Open(endpoint, reusePort: false);
                    endpoint = (IPEndPoint)probe.LocalEndPoint!;
                }

                var first = Open(endpoint, group);
                _sockets.Add(first);
                _primary.Add(first);
                for (var i = 1; i < ReceiveLoopsPerSocket; i++) _sockets.Add(Open((IPEndPoint)first.LocalEndPoint!, reusePort: true));
            }
        }
        catch
        {
            foreach (var s in _sockets) s.Dispose();
            throw;
        }
    }

    private static Socket Open(IPEndPoint endpoint, bool reusePort)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.ReceiveBufferSize = 4 * 1024 * 1024;
            socket.SendBufferSize = 4 * 1024 * 1024;
            if (reusePort) socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"cannot bind UDP {endpoint}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Also receives what is sent to these IPv4 multicast groups (joined on the interface holding <paramref name="localAddress"/>,
    /// one socket bound to each group, shared with other listeners on this host), and sends multicast out of that interface.
    /// Call before <see cref="Start"/>. Replies to a datagram that came to a group leave from the unicast sockets.
    /// </summary>
    public void JoinGroups(IEnumerable<IPEndPoint> groups, IPAddress localAddress)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(localAddress);
        var joined = false;
        foreach (var group in groups)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(group);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group.Address, localAddress));
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new InvalidOperationException($"cannot join multicast group {group} on the interface of {localAddress}: {e.Message}", e);
            }

            _groupSockets.Add(socket);
            joined = true;
        }

        if (!joined) return;
        foreach (var socket in _primary.Where(s => s.AddressFamily == AddressFamily.InterNetwork))
        {
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, localAddress.GetAddressBytes());
        }
    }

    /// <summary>Receive loops per endpoint (each on its own SO_REUSEPORT socket when more than one).</summary>
    public int ReceiveLoopsPerSocket { get; }

    /// <summary>The bound endpoints (with the actual port when 0 was asked for).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints => _primary.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>Datagrams received.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Datagrams sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Sends that failed (unreachable, no route).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>Sends that carried a run of replies to one destination as one UDP GSO datagram train (Linux).</summary>
    public long SegmentedSends => Interlocked.Read(ref _segmentedSends);

    /// <summary>Datagrams the engine threw on (a bug, logged with the exception).</summary>
    public long EngineFaults => Interlocked.Read(ref _engineFaults);

    /// <summary>Starts the loops.</summary>
    public void Start()
    {
        foreach (var socket in _sockets)
        {
            Action loop = OperatingSystem.IsLinux()
                ? () =>
                {
                    if (!new BatchReceiveLoop(this, socket).Run()) ReceiveLoop(socket);
                }
                : () => ReceiveLoop(socket);
            _loops.Add(Task.Factory.StartNew(loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
        }

        foreach (var socket in _groupSockets)
        {
            _loops.Add(Task.Factory.StartNew(() => ReceiveLoop(socket, group: true), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
        }

        _loops.Add(Task.Run(TimerLoopAsync));
    }

    /// <summary>Asks the timer loop to re-read the engine's next due time (after an API call queued work).</summary>
    public void Wake() => _wake.Release();

    /// <summary>Sends datagrams queued outside a receive (by API calls on the engine).</summary>
    public void Flush(DatagramList outgoing)
    {
        ArgumentNullException.ThrowIfNull(outgoing);
        foreach (var d in outgoing.Items) SendNow(d.Payload.Span, d.Destination);
        outgoing.Clear();
    }

    // A dedicated thread per socket with blocking receives: no async state machine, no hop through the
    // epoll thread, and the sender's endpoint is made once per source rather than once per datagram
    // (engines keep it, so a registrant's many registrations share one IPEndPoint).
    private void ReceiveLoop(Socket socket, bool group = false)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var outgoing = new DatagramList();
        var received = new SocketAddress(socket.AddressFamily);
        var sources = new SourceEndpoints(socket.AddressFamily);
        var destinations = new Dictionary<IPEndPoint, SocketAddress>();
        socket.ReceiveTimeout = 500; // to notice a stop even where closing does not wake a blocked receive
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, received);
            }
            catch (ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                if (_stop.IsCancellationRequested) break;

                // A timeout is the stop check; ICMP port-unreachable from an earlier send surfaces here on some stacks: not fatal.
                if (e.SocketErrorCode != SocketError.TimedOut && e.SocketErrorCode != SocketError.WouldBlock) LogReceiveError(e.SocketErrorCode);
                continue;
            }

            // A receive woken by the shutdown at stop returns nothing from nobody.
            if (_stop.IsCancellationRequested) break;
            if (sources.Get(received.Buffer.Span[..received.Size]) is not { } source) continue;
            Deliver(buffer.AsSpan(0, length), source, outgoing);
            foreach (var d in outgoing.Items)
            {
                // A socket bound to a multicast group cannot send from that address: replies leave from a unicast socket.
                if (group || d.Destination.AddressFamily != socket.AddressFamily)
                {
                    SendNow(d.Payload.Span, d.Destination);
                    continue;
                }

                SendNow(d.Payload.Span, d.Destination, socket, AddressOf(d.Destination, destinations));
            }

            outgoing.Clear();
        }
    }

    /// <summary>Signalled when the transport stops.</summary>
    internal CancellationToken Stopping => _stop.Token;

    /// <summary>Hands one received datagram to the engine; a throwing engine is counted and logged, never the loop's end.</summary>
    internal void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint source, DatagramList outgoing)
    {
        Interlocked.Increment(ref _received);
        try
        {
            _engine.Receive(datagram, source, outgoing);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _engineFaults);
            LogEngineFault(e, source.ToString());
        }
    }

    internal void CountSent(int datagrams) => Interlocked.Add(ref _sent, datagrams);

    internal void CountSegmented(long sends) => Interlocked.Add(ref _segmentedSends, sends);

    internal void CountSendError(IPEndPoint destination, SocketError error)
    {
        Interlocked.Increment(ref _sendErrors);
        LogSendError(destination.ToString(), error);
    }

    private async Task TimerLoopAsync()
    {
        var outgoing = new DatagramList();
        while (!_stop.IsCancellationRequested)
        {
            TimeSpan? next;
            try
            {
                next = _engine.OnTimer(outgoing);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Interlocked.Increment(ref _engineFaults);
                LogEngineFault(e, "timer");
                next = TimeSpan.FromSeconds(1);
            }

            Flush(outgoing);
            var wait = next is { } n ? (n < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : n > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : n) : TimeSpan.FromSeconds(1);
            try
            {
                await _wake.WaitAsync(wait, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }
        }
    }

    internal void SendNow(ReadOnlySpan<byte> payload, IPEndPoint destination, Socket? preferred = null, SocketAddress? address = null)
    {
        var socket = preferred is not null && preferred.AddressFamily == destination.AddressFamily
            ? preferred
            : _sockets.FirstOrDefault(s => s.AddressFamily == destination.AddressFamily);
        if (socket is null)
        {
            Interlocked.Increment(ref _sendErrors);
            LogNoSocket(destination.ToString());
            return;
        }

        try
        {
            if (address is not null && ReferenceEquals(socket, preferred)) socket.SendTo(payload, SocketFlags.None, address);
            else socket.SendTo(payload, SocketFlags.None, destination);
            Interlocked.Increment(ref _sent);
        }
        catch (SocketException e)
        {
            Interlocked.Increment(ref _sendErrors);
            LogSendError(destination.ToString(), e.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    // Serializing an endpoint per datagram would allocate on every send: each loop keeps the addresses it sends to, bounded.
    internal static SocketAddress AddressOf(IPEndPoint destination, Dictionary<IPEndPoint, SocketAddress> destinations)
    {
        if (destinations.TryGetValue(destination, out var address)) return address;
        if (destinations.Count >= MaxCachedEndpoints) destinations.Clear();
        return destinations[destination] = destination.Serialize();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var s in _sockets.Concat(_groupSockets))
        {
            // Shutdown wakes a receive blocked on the socket (Linux reports ENOTCONN for UDP but still wakes it).
            try { s.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
            s.Dispose();
        }
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected on stop.
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "UDP receive error {Error}")]
    internal partial void LogReceiveError(SocketError error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Error, Message = "Engine failed on a datagram from {Source}; datagram dropped")]
    private partial void LogEngineFault(Exception exception, string source);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "No socket of the family of {Destination}; datagram dropped")]
    private partial void LogNoSocket(string destination);

    [LoggerMessage(EventId = 103, Level = LogLevel.Debug, Message = "Send to {Destination} failed: {Error}")]
    private partial void LogSendError(string destination, SocketError error);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "UDP segmentation offload refused by the kernel or device ({Error}, errno {Errno}); replies now leave one datagram per send")]
    internal partial void LogSegmentationRefused(SocketError error, int errno);
}
