using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.MappingSystem.Serving;
using LispMobility.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.MappingSystem;

/// <summary>
/// The embedded Map-Server and Map-Resolver (RFC 9301 §8.2–8.4), sans I/O: it takes datagrams and the
/// time and queues datagrams to send. It authenticates Map-Registers, keeps registrations with expiry,
/// tells previous registrants when an EID moves (unsolicited Map-Notify until acknowledged), solicits
/// the ITRs that asked for a changed EID, and answers, forwards or negatively answers Map-Requests.
/// Thread-safe: MAC checks run outside the one lock that guards the tables. It composes its parts, each owning its state:
/// <see cref="RegistrationHandler"/> (registrations, expiry, replay), <see cref="Notifier"/> (unsolicited Map-Notifies and
/// SMRs) and <see cref="RequestResolver"/> (Map-Requests).
/// </summary>
public sealed class MapServer : IDatagramEngine
{
    private readonly ServerContext _context;
    private readonly RegistrationHandler _registrations;
    private readonly Notifier _notifier;
    private readonly RequestResolver _resolver;

    /// <summary>Builds the engine from validated options (throws with every problem listed otherwise).</summary>
    public MapServer(MapServerOptions options, TimeProvider? time = null, NonceSource? nonces = null, ILogger<MapServer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid Map-Server configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        _context = new ServerContext(options, new SiteRegistry(options.Sites), time ?? TimeProvider.System, nonces ?? NonceSource.Random,
            logger ?? (ILogger)NullLogger<MapServer>.Instance);
        _notifier = new Notifier(_context);
        _registrations = new RegistrationHandler(_context, _notifier);
        _resolver = new RequestResolver(_context, _registrations, _notifier);
    }

    private object Gate => _context.Gate;

    /// <summary>Registrants whose replay state is kept (forgotten once their registrations expire or they fall idle).</summary>
    public int ReplayStateCount { get { lock (Gate) { return _registrations.ReplayStateCount; } } }

    /// <summary>What the Map-Server counted.</summary>
    public MapServerCounters Counters => _context.Counters;

    /// <summary>The configured sites.</summary>
    public SiteRegistry Sites => _context.Sites;

    private EventHandler<MapServerEvent>? _eventRaised;

    /// <summary>Raised (outside the lock) for registrations, moves, withdrawals, acknowledgements and SMRs.</summary>
    public event EventHandler<MapServerEvent>? EventRaised
    {
        add
        {
            lock (Gate)
            {
                _eventRaised += value;
                _context.Observed = _eventRaised is not null;
            }
        }
        remove
        {
            lock (Gate)
            {
                _eventRaised -= value;
                _context.Observed = _eventRaised is not null;
            }
        }
    }

    /// <summary>Number of registered EID-prefixes.</summary>
    public int RegistrationCount { get { lock (Gate) { return _registrations.Table.Count; } } }

    /// <summary>Unsolicited Map-Notifies still waiting for their Map-Notify-Ack.</summary>
    public int PendingNotifyCount { get { lock (Gate) { return _notifier.PendingCount; } } }

    /// <summary>Every registration, one row per ETR.</summary>
    public IReadOnlyList<RegistrationInfo> ListRegistrations()
    {
        lock (Gate)
        {
            return _registrations.Table.All.SelectMany(e => e.Etrs.Select(r => new RegistrationInfo(
                    e.Prefix, e.Site.Name, r.Locators, r.LastRegistered, r.ExpiresAt, r.Registrant,
                    r.Id.IsXtrId ? r.Id.Value : null, r.ProxyReply, r.Ttl)))
                .OrderBy(r => r.Eid.ToString(), StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The registration that a Map-Request for <paramref name="address"/> would use, if any.</summary>
    public RegistrationInfo? Lookup(LispAddress address)
    {
        lock (Gate)
        {
            var e = _registrations.Table.Lookup(address);
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
                _registrations.HandleRegister(datagram, source, sink, events);
                break;
            case LispMessageType.MapNotifyAck:
                _notifier.HandleNotifyAck(datagram, source, events);
                break;
            case LispMessageType.EncapsulatedControlMessage:
                _resolver.HandleEcm(datagram, source, sink);
                break;
            case LispMessageType.MapRequest:
                _resolver.HandleDirectRequest(datagram, source, sink);
                break;
            default:
                Counters.Reject(RejectReason.UnexpectedType);
                MapServerLog.Unexpected(_context.Logger, (int)type, source);
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
        var now = _context.Time.GetUtcNow();
        var events = new List<MapServerEvent>(0);
        DateTimeOffset? next;
        lock (Gate)
        {
            _registrations.ExpireDue(now, sink, events);
            _registrations.SweepReplay(now);
            _notifier.RetransmitDue(now, sink, events);
            next = Earliest(_notifier.SendSmrsDue(now, sink, events), _notifier.NextNotifyDue(), _registrations.NextExpiry);
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
        var handler = _eventRaised;
        if (handler is null) return;
        foreach (var e in events)
        {
            try
            {
                handler(this, e);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                MapServerLog.ObserverFault(_context.Logger, ex);
            }
        }
    }
}
