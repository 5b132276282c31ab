using System.Collections.Concurrent;
using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.MappingSystem.Resolution;
using LispMobility.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.MappingSystem;

/// <summary>
/// The embedded Map-Server and Map-Resolver (RFC 9301 §8.2–8.4), sans I/O: it takes datagrams and the
/// time and queues datagrams to send. It authenticates Map-Registers, keeps registrations with expiry,
/// tells previous registrants when an EID moves (unsolicited Map-Notify until acknowledged), solicits
/// the ITRs that asked for a changed EID, and answers, forwards or negatively answers Map-Requests.
/// Thread-safe: MAC checks run outside the one lock that guards the tables.
/// </summary>
public sealed partial class MapServer : IDatagramEngine
{
    private readonly object _gate = new();
    private readonly MapServerOptions _options;
    private readonly TimeProvider _time;
    private readonly NonceSource _nonces;
    private readonly ILogger _logger;
    private readonly SiteRegistry _sites;
    private readonly RegistrationTable _table = new();
    // Deadlines as UTC ticks: an item is 16 bytes, not 24 (one per registration, issue #18).
    private readonly PriorityQueue<EtrRegistration, long> _expiry = new();
    private readonly ReplayGuard _replay;
    private readonly Dictionary<ulong, PendingNotify> _pending = [];
    private readonly Dictionary<RegistrantId, Registrant> _registrantsById = [];
    private readonly RequesterRateLimiter _rateLimiter;
    private readonly RequesterRateLimiter _registeredRateLimiter;
    // Source addresses of the registrations held now, each with how many it holds: their Map-Requests get the registered
    // rate. Written under _gate, read by the receive path without it.
    private readonly ConcurrentDictionary<IPAddress, int> _registrants = new();
    private readonly SmrScheduler _smr;

    /// <summary>Builds the engine from validated options (throws with every problem listed otherwise).</summary>
    public MapServer(MapServerOptions options, TimeProvider? time = null, NonceSource? nonces = null, ILogger<MapServer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid Map-Server configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _time = time ?? TimeProvider.System;
        _nonces = nonces ?? NonceSource.Random;
        _logger = logger ?? NullLogger<MapServer>.Instance;
        _sites = new SiteRegistry(options.Sites);
        _rateLimiter = new RequesterRateLimiter(options.RequestsPerSecondPerRequester, options.RequestBurstPerRequester, options.MaxTrackedRequesters, _time);
        _registeredRateLimiter = new RequesterRateLimiter(options.RegisteredRequestsPerSecond, options.RegisteredRequestBurst, options.MaxTrackedRequesters, _time);
        _smr = new SmrScheduler(options, _time, _nonces);
        _replay = new ReplayGuard(options.ReplayWindowSize, options.ReplayStateIdle);
    }

    /// <summary>Registrants whose replay state is kept (forgotten once their registrations expire or they fall idle).</summary>
    public int ReplayStateCount { get { lock (_gate) { return _replay.Count; } } }

    /// <summary>What the Map-Server counted.</summary>
    public MapServerCounters Counters { get; } = new();

    /// <summary>The configured sites.</summary>
    public SiteRegistry Sites => _sites;

    /// <summary>Raised (outside the lock) for registrations, moves, withdrawals, acknowledgements and SMRs.</summary>
    public event EventHandler<MapServerEvent>? EventRaised;

    /// <summary>Number of registered EID-prefixes.</summary>
    public int RegistrationCount { get { lock (_gate) { return _table.Count; } } }

    /// <summary>Unsolicited Map-Notifies still waiting for their Map-Notify-Ack.</summary>
    public int PendingNotifyCount { get { lock (_gate) { return _pending.Count; } } }

    /// <summary>Every registration, one row per ETR.</summary>
    public IReadOnlyList<RegistrationInfo> ListRegistrations()
    {
        lock (_gate)
        {
            return _table.All.SelectMany(e => e.Etrs.Select(r => new RegistrationInfo(
                    e.Prefix, e.Site.Name, r.Locators, r.LastRegistered, r.ExpiresAt, r.Registrant,
                    r.Id.IsXtrId ? r.Id.Value : null, r.ProxyReply, r.Ttl)))
                .OrderBy(r => r.Eid.ToString(), StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The registration that a Map-Request for <paramref name="address"/> would use, if any.</summary>
    public RegistrationInfo? Lookup(LispAddress address)
    {
        lock (_gate)
        {
            var e = _table.Lookup(address);
            if (e is null || e.Etrs.Count == 0) return null;
            var r = e.Etrs[0];
            return new RegistrationInfo(e.Prefix, e.Site.Name, e.MergedLocators(), r.LastRegistered, r.ExpiresAt, r.Registrant, r.Id.IsXtrId ? r.Id.Value : null, e.ProxyReply, e.Ttl);
        }
    }

    /// <inheritdoc />
    public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sink);
        if (!LispMessage.TryPeekType(datagram, out var type))
        {
            Counters.Reject(RejectReason.Malformed);
            return;
        }

        var events = RentEvents();
        switch (type)
        {
            case LispMessageType.MapRegister:
                HandleRegister(datagram, source, sink, events);
                break;
            case LispMessageType.MapNotifyAck:
                HandleNotifyAck(datagram, source, events);
                break;
            case LispMessageType.EncapsulatedControlMessage:
                HandleEcm(datagram, source, sink);
                break;
            case LispMessageType.MapRequest:
                HandleDirectRequest(datagram, source, sink);
                break;
            default:
                Counters.Reject(RejectReason.UnexpectedType);
                LogUnexpected((int)type, source);
                break;
        }

        Raise(events);
        ReturnEvents(events);
    }

    // One event list per receive thread: a datagram is handled without allocating one (it is taken out of the slot while
    // in use, so an observer that feeds the engine on its own thread gets a list of its own).
    [ThreadStatic]
    private static List<MapServerEvent>? t_events;

    private static List<MapServerEvent> RentEvents()
    {
        var list = t_events ?? new List<MapServerEvent>(4);
        t_events = null;
        return list;
    }

    private static void ReturnEvents(List<MapServerEvent> list)
    {
        list.Clear();
        t_events = list;
    }

    /// <inheritdoc />
    public TimeSpan? OnTimer(IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var now = _time.GetUtcNow();
        var events = new List<MapServerEvent>(0);
        DateTimeOffset? next;
        lock (_gate)
        {
            ExpireDue(now, sink, events);
            _replay.Sweep(now);
            RetransmitDue(now, sink, events);
            next = Earliest(_smr.SendDue(now, sink, events, Counters), NextNotifyDue(), _expiry.TryPeek(out _, out var e) ? new DateTimeOffset(e, TimeSpan.Zero) : null);
        }

        Raise(events);
        return next is { } n ? (n > now ? n - now : TimeSpan.Zero) : null;
    }

    private static DateTimeOffset? Earliest(params DateTimeOffset?[] times)
    {
        DateTimeOffset? best = null;
        foreach (var t in times)
        {
            if (t is { } v && (best is null || v < best)) best = v;
        }

        return best;
    }

    private void Raise(List<MapServerEvent> events)
    {
        var handler = EventRaised;
        if (handler is null) return;
        foreach (var e in events)
        {
            try
            {
                handler(this, e);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogObserverFault(ex);
            }
        }
    }

    private IPEndPoint NotifyDestination(IPEndPoint registrant) =>
        _options.MapNotifyPort == 0 ? registrant : new IPEndPoint(registrant.Address, _options.MapNotifyPort);
}
