using System.Globalization;
using System.Net;
using System.Text;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Transport;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Configuration;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Xtr;

/// <summary>
/// The embedded xTR, sans I/O (datagrams and time in, datagrams out): the ETR's registration engine
/// and EID database with dynamic hosts, the away state, authoritative Map-Replies and SMRs, and the
/// ITR's map-cache with resolution through the Map-Resolver. Host routes are an output too: route changes, in order, to an
/// <see cref="IRouteChangeSink"/> that the shell applies off the receive path. Thread-safe through one lock; completions of
/// awaited operations run outside it.
/// </summary>
public sealed partial class XtrEngine : IDatagramEngine
{
    private readonly object _gate = new();
    private readonly XtrOptions _options;
    private readonly IRouteChangeSink _routes;
    private readonly TimeProvider _time;
    private readonly NonceSource _registerNonces;
    private readonly NonceSource _nonces;
    private readonly ILogger _logger;
    private readonly Locator[] _rlocs;
    private readonly HashSet<LispAddress> _rlocAddresses;
    private readonly MapServerPeer[] _mapServers;
    private readonly IPEndPoint[] _resolvers;
    private readonly EidPrefix[] _static;
    private readonly (DynamicEidOptions Options, EidPrefix Prefix)[] _ranges;
    private readonly MapCache _cache;
    private readonly List<Action> _completions = [];

    /// <summary>Builds the engine from validated options (throws listing every problem otherwise).</summary>
    public XtrEngine(XtrOptions options, IRouteChangeSink routes, TimeProvider? time = null, NonceSource? nonces = null, ILogger<XtrEngine>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid xTR configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _routes = routes ?? throw new ArgumentNullException(nameof(routes));
        _time = time ?? TimeProvider.System;
        _registerNonces = NonceSource.Increasing(_time);
        _nonces = nonces ?? NonceSource.Random;
        _logger = logger ?? NullLogger<XtrEngine>.Instance;
        _rlocs = options.Rlocs.Select(r => new Locator(LispAddress.Parse(r.Address), r.Priority, r.Weight, Local: true)).ToArray();
        _rlocAddresses = _rlocs.Select(r => r.Address).ToHashSet();
        _mapServers = options.MapServers.Select((m, i) => new MapServerPeer(i, IPEndPoint.Parse(m.Address), m, Encoding.UTF8.GetBytes(m.Key))).ToArray();
        _resolvers = options.MapResolvers.Select(IPEndPoint.Parse).ToArray();
        _static = options.DatabaseMappings.Select(EidPrefix.Parse).ToArray();
        _ranges = options.DynamicEids.Select(d => (d, EidPrefix.Parse(d.Prefix))).ToArray();
        _groups = _ranges.Select(r => r.Options.MapNotifyGroupEndpoint).OfType<IPEndPoint>().Distinct().ToArray();
        _groupKeys = _ranges.Where(r => r.Options.MapNotifyGroupEndpoint is not null).Select(r => r.Options.MapNotifyGroupKey!).Distinct(StringComparer.Ordinal)
            .Select(k => Encoding.UTF8.GetBytes(k)).ToArray();
        _cache = new MapCache(options.MapCacheSize);
        XtrId = string.IsNullOrEmpty(options.XtrId) ? DeriveXtrId(options) : UInt128.Parse(options.XtrId, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        _quickUntil = _time.GetUtcNow() + options.QuickRegisterWindow;
        _nextPeriodic = _time.GetUtcNow();
    }

    /// <summary>The xTR-ID sent in every Map-Register.</summary>
    public UInt128 XtrId { get; }

    /// <summary>The site's RLOCs.</summary>
    public IReadOnlyList<Locator> Rlocs => _rlocs;

    /// <summary>The site name.</summary>
    public string Site => _options.Site;

    /// <summary>What the xTR counted.</summary>
    public XtrCounters Counters { get; } = new();

    /// <summary>Raised (outside the lock) for registrations, away transitions, cache updates and SMRs.</summary>
    public event EventHandler<XtrEvent>? EventRaised;

    /// <summary>The dynamic-EID range named <paramref name="name"/> or containing <paramref name="address"/>.</summary>
    public string? RangeOf(IPAddress address)
    {
        var a = LispAddress.FromIPAddress(address);
        foreach (var (o, p) in _ranges)
        {
            if (p.Contains(a)) return o.Name;
        }

        return null;
    }

    /// <inheritdoc />
    public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sink);
        var events = new List<XtrEvent>(0);
        if (!LispMessage.TryPeekType(datagram, out var type))
        {
            Counters.Malformed();
            return;
        }

        try
        {
            switch (type)
            {
                case LispMessageType.MapNotify: HandleMapNotify(datagram, source, sink, events); break;
                case LispMessageType.MapReply: HandleMapReply(datagram, source, events); break;
                case LispMessageType.MapRequest: HandleMapRequest(datagram, source, (ushort)source.Port, false, sink, events); break;
                case LispMessageType.EncapsulatedControlMessage: HandleEcm(datagram, source, sink, events); break;
                default:
                    Counters.Unexpected();
                    LogUnexpected((int)type, source);
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug, but not one a sender may turn into a stopped xTR: the datagram is dropped, counted and logged (throttled).
            Counters.ReceiveFault();
            if (_faultLog.ShouldLog("receive", _time.GetUtcNow(), out var suppressed)) LogReceiveFault(e, type.ToString(), source, suppressed);
        }

        Finish(events);
    }

    /// <inheritdoc />
    public TimeSpan? OnTimer(IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var now = _time.GetUtcNow();
        var events = new List<XtrEvent>(0);
        DateTimeOffset next;
        lock (_gate)
        {
            // Each job runs whatever the other did: a fault in resolution must not cost the periodic Map-Registers.
            next = now + TimeSpan.FromSeconds(1);
            try
            {
                next = RegistrationTimers(now, sink);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                TimerFault("registration", e, now);
            }

            try
            {
                var resolveNext = ResolutionTimers(now, sink);
                if (resolveNext is { } r && r < next) next = r;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                TimerFault("resolution", e, now);
            }
        }

        Finish(events);
        return next > now ? next - now : TimeSpan.Zero;
    }

    // Under _gate. A timer job or item that threw: counted, logged at most once a minute per job, dropped.
    private void TimerFault(string job, Exception e, DateTimeOffset now)
    {
        Counters.TimerFault();
        if (_faultLog.ShouldLog(job, now, out var suppressed)) LogTimerFault(e, job, suppressed);
    }

    private readonly LogThrottle _faultLog = new(TimeSpan.FromMinutes(1));

    // Completes awaited tasks and raises events outside the lock.
    private void Finish(List<XtrEvent> events)
    {
        List<Action> completions;
        lock (_gate)
        {
            completions = [.. _completions];
            _completions.Clear();
        }

        foreach (var complete in completions) complete();
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

    private bool IsOurs(IReadOnlyList<Locator> locators)
    {
        foreach (var l in locators)
        {
            if (_rlocAddresses.Contains(l.Address)) return true;
        }

        return false;
    }

    private static UInt128 DeriveXtrId(XtrOptions options)
    {
        var bytes = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(options.Site + "|" + string.Join(",", options.Rlocs.Select(r => r.Address))));
        return new UInt128(BitConverter.ToUInt64(bytes, 0), BitConverter.ToUInt64(bytes, 8));
    }

    /// <summary>A Map-Server and its key.</summary>
    private sealed record MapServerPeer(int Index, IPEndPoint Endpoint, MapServerPeerOptions Options, byte[] Key)
    {
        public DateTimeOffset? LastAcknowledged { get; set; }

        /// <summary>The nonces of this Map-Server's news (unsolicited Map-Notifies) applied lately.</summary>
        public RecentNonces News { get; } = new(capacity: 4096, retention: TimeSpan.FromMinutes(10));

        public override string ToString() => Endpoint.ToString();
    }

    /// <summary>
    /// Nonces seen lately, bounded in count and age: a Map-Server retransmits its news (the same datagram) for a few minutes
    /// at most, and only authenticated news is remembered, so a stranger cannot fill it.
    /// </summary>
    private sealed class RecentNonces(int capacity, TimeSpan retention)
    {
        private readonly HashSet<ulong> _set = [];
        private readonly Queue<(ulong Nonce, DateTimeOffset Seen)> _order = new();

        /// <summary>Remembers <paramref name="nonce"/>; false when it was already remembered.</summary>
        public bool Add(ulong nonce, DateTimeOffset now)
        {
            while (_order.Count > 0 && (_order.Count >= capacity || _order.Peek().Seen < now - retention)) _set.Remove(_order.Dequeue().Nonce);
            if (!_set.Add(nonce)) return false;
            _order.Enqueue((nonce, now));
            return true;
        }
    }
}
