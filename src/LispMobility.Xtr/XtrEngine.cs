using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using LispMobility.Xtr.Caching;
using LispMobility.Xtr.Configuration;
using LispMobility.Xtr.Roles;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Xtr;

/// <summary>
/// The embedded xTR, sans I/O: datagrams and time in; datagrams, route changes (to an <see cref="IRouteChangeSink"/>, in
/// order) and the next timer out. A thin composition of roles that each own their state — registration, away state, ETR
/// answers, SMR solicitation, resolution with the map-cache, the extended-subnet group — behind one lock; completions of
/// awaited operations and events run outside it.
/// </summary>
public sealed class XtrEngine : IDatagramEngine
{
    private readonly object _gate = new();
    private readonly XtrSite _site;
    private readonly HostTable _hosts = new();
    private readonly Registrar _registrar;
    private readonly AwayState _away;
    private readonly Resolver _resolver;
    private readonly Solicitation _solicitation;
    private readonly EtrResponder _etr;
    private readonly ExtendedSubnetGroup _group;
    private readonly RlocProber _prober;
    private readonly LogThrottle _faultLog = new(TimeSpan.FromMinutes(1));

    /// <summary>Builds the engine from validated options (throws listing every problem otherwise).</summary>
    public XtrEngine(XtrOptions options, IRouteChangeSink routes, TimeProvider? time = null, NonceSource? nonces = null, ILogger<XtrEngine>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(routes);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException("invalid xTR configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        _site = new XtrSite(options, routes, time ?? TimeProvider.System, nonces ?? NonceSource.Random, logger ?? NullLogger<XtrEngine>.Instance);
        _registrar = new Registrar(_site, _hosts);
        _away = new AwayState(_site, _hosts, _registrar);
        _resolver = new Resolver(_site);
        _solicitation = new Solicitation(_site, _resolver);
        _etr = new EtrResponder(_site, _hosts, _solicitation, _resolver);
        _group = new ExtendedSubnetGroup(_site, _hosts, _away);
        _prober = new RlocProber(_site, _resolver);
    }

    /// <summary>The xTR-ID sent in every Map-Register.</summary>
    public UInt128 XtrId => _site.XtrId;

    /// <summary>The site's RLOCs.</summary>
    public IReadOnlyList<Locator> Rlocs => _site.Rlocs;

    /// <summary>The site name.</summary>
    public string Site => _site.Options.Site;

    /// <summary>What the xTR counted.</summary>
    public XtrCounters Counters => _site.Counters;

    /// <summary>The map-notify groups of the extended-subnet ranges (the transport joins them).</summary>
    public IReadOnlyList<IPEndPoint> MapNotifyGroups => _group.Groups;

    /// <summary>
    /// The UDP port this xTR's control plane listens on: where Map-Replies to our Map-Requests come back, and
    /// the port assumed for remote ITRs we solicit. Set by the transport once bound.
    /// </summary>
    public int ControlPort
    {
        get => _site.ControlPort;
        set => _site.ControlPort = value;
    }

    /// <summary>Raised (outside the lock) for registrations, away transitions, cache updates and SMRs.</summary>
    public event EventHandler<XtrEvent>? EventRaised;

    /// <summary>The name of the dynamic-EID range containing <paramref name="address"/>, or null.</summary>
    public string? RangeOf(IPAddress address) => _site.RangeOf(LispAddress.FromIPAddress(address))?.Options.Name;

    /// <inheritdoc />
    public void Receive(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(sink);
        if (!LispMessage.TryPeekType(datagram, out var type))
        {
            Counters.Malformed();
            return;
        }

        var call = new XtrCall(sink, _site.Time.GetUtcNow());
        lock (_gate)
        {
            try
            {
                switch (type)
                {
                    case LispMessageType.MapNotify: HandleMapNotify(datagram, source, call); break;
                    case LispMessageType.MapReply: HandleMapReply(datagram, source, call); break;
                    case LispMessageType.MapRequest: _etr.HandleMapRequest(datagram, source, (ushort)source.Port, false, call); break;
                    case LispMessageType.EncapsulatedControlMessage: _etr.HandleEcm(datagram, source, call); break;
                    default:
                        Counters.Unexpected();
                        XtrLog.Unexpected(_site.Logger, (int)type, source);
                        break;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A bug, but not one a sender may turn into a stopped xTR: the datagram is dropped, counted and logged (throttled).
                Counters.ReceiveFault();
                if (_faultLog.ShouldLog("receive", call.Now, out var suppressed)) XtrLog.ReceiveFault(_site.Logger, e, type.ToString(), source, suppressed);
            }
        }

        Finish(call);
    }

    /// <inheritdoc />
    public TimeSpan? OnTimer(IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var call = new XtrCall(sink, _site.Time.GetUtcNow());
        var now = call.Now;
        var next = now + TimeSpan.FromSeconds(1);
        lock (_gate)
        {
            // Each job runs whatever the other did: a fault in resolution must not cost the periodic Map-Registers.
            try
            {
                next = _registrar.OnTimer(call);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                TimerFault("registration", e, now);
            }

            try
            {
                if (_prober.OnTimer(call) is { } p && p < next) next = p;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                TimerFault("probing", e, now);
            }

            try
            {
                var resolveNext = _resolver.OnTimer(call, e => TimerFault("resolution", e, now));
                if (resolveNext is { } r && r < next) next = r;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                TimerFault("resolution", e, now);
            }
        }

        Finish(call);
        return next > now ? next - now : TimeSpan.Zero;
    }

    // Under _gate. A timer job or item that threw: counted, logged at most once a minute per job, dropped.
    private void TimerFault(string job, Exception e, DateTimeOffset now)
    {
        Counters.TimerFault();
        if (_faultLog.ShouldLog(job, now, out var suppressed)) XtrLog.TimerFault(_site.Logger, e, job, suppressed);
    }

    // Completes awaited tasks and raises events outside the lock.
    private void Finish(XtrCall call)
    {
        foreach (var complete in call.Completions) complete();
        var handler = EventRaised;
        if (handler is null) return;
        foreach (var e in call.Events)
        {
            try
            {
                handler(this, e);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                XtrLog.ObserverFault(_site.Logger, ex);
            }
        }
    }

    private T Call<T>(IDatagramSink sink, Func<XtrCall, T> work)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var call = new XtrCall(sink, _site.Time.GetUtcNow());
        T result;
        lock (_gate) { result = work(call); }
        Finish(call);
        return result;
    }

    // Under _gate. A Map-Notify from a Map-Server acknowledges one of our Map-Registers, or is its news; from anyone else it
    // may be a peer's group announcement.
    private void HandleMapNotify(ReadOnlySpan<byte> datagram, IPEndPoint source, XtrCall call)
    {
        if (!MapNotify.TryReadView(datagram, out var view, out var error))
        {
            Counters.Malformed();
            XtrLog.Malformed(_site.Logger, "Map-Notify", source, error.ToString());
            return;
        }

        var ms = _site.MapServers.FirstOrDefault(m => m.Endpoint.Address.Equals(source.Address));
        if (ms is null && _group.TryHandle(datagram, view, source, call)) return;
        if (ms is null || !view.VerifyAuthentication(ms.Key, AuthPurpose.MapNotify))
        {
            Counters.NotifyRejected();
            XtrLog.NotifyRejected(_site.Logger, source, ms is null ? "not from a configured Map-Server" : "authentication failed");
            return;
        }

        if (!MapNotify.TryRead(datagram, out var notify, out error))
        {
            Counters.Malformed();
            XtrLog.Malformed(_site.Logger, "Map-Notify", source, error.ToString());
            return;
        }

        // Our own Map-Registers carry our xTR-ID and their Map-Notifies echo it: one that no pending register claims is a late
        // or duplicated acknowledgement. The Map-Server's own news (a move, a withdrawal) carries none.
        if (_registrar.TryAcknowledge(ms, view.Nonce, call) || view.XtrId == XtrId) return;

        // The Map-Server sends its news again, the same datagram, until it is acknowledged: a copy of news applied here
        // already (our acknowledgement was lost) is acknowledged again, not applied again. The host may have come back
        // since, and old news must not undo the registration it now has under way.
        if (!ms.News.Add(view.Nonce, call.Now)) Counters.NotifyDuplicate();
        else _away.ApplyNews(notify.Records, source, call);

        var ack = MapNotifyAck.For(notify) with { TruncateMac = view.AuthenticationLength == LispAuthentication.TruncatedLength(view.Algorithm) };
        call.Sink.Send(ack.ToSignedArray(ms.Key), source);
        Counters.NotifyAckSent();
    }

    private void HandleMapReply(ReadOnlySpan<byte> datagram, IPEndPoint source, XtrCall call)
    {
        if (!MapReply.TryRead(datagram, out var reply, out var error))
        {
            Counters.Malformed();
            XtrLog.Malformed(_site.Logger, "Map-Reply", source, error.ToString());
            return;
        }

        if (!(reply.ProbeReply ? _prober.TakeReply(reply, call) : _resolver.TakeReply(reply, call))) Counters.UnmatchedReply();
    }

    /// <summary>The dynamic hosts and their state.</summary>
    public IReadOnlyList<HostInfo> Hosts()
    {
        lock (_gate) { return _hosts.Snapshot(); }
    }

    /// <summary>One host as <see cref="Hosts"/> lists it, or null when unknown.</summary>
    public HostInfo? HostOf(IPAddress address)
    {
        lock (_gate) { return _hosts.InfoOf(LispAddress.FromIPAddress(address)); }
    }

    /// <summary>When each Map-Server last acknowledged a registration.</summary>
    public IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged, DateTimeOffset? LastSent)> MapServerStatus()
    {
        lock (_gate) { return _registrar.MapServerStatus(); }
    }

    /// <summary>
    /// Registers a host's /32 (or /128) inside a dynamic-EID range with every Map-Server; the task completes
    /// when each has acknowledged with a valid Map-Notify, or fails at the deadline naming those that did not.
    /// </summary>
    public Task<RegistrationResult> BeginRegisterHost(IPAddress address, string? rangeName, IDatagramSink sink) =>
        BeginRegisterHosts([address], rangeName, sink)[0];

    /// <summary>
    /// Registers many hosts at once (a DR failover): their records share Map-Registers, as many as fit one datagram, and
    /// each host's task completes like <see cref="BeginRegisterHost"/>'s. An address outside every range fails its own task only.
    /// </summary>
    public Task<RegistrationResult>[] BeginRegisterHosts(IReadOnlyList<IPAddress> addresses, string? rangeName, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        return Call(sink, call => _registrar.Register(addresses, rangeName, call, started => _group.Announce(started, call)));
    }

    /// <summary>Withdraws a host's /32 (record TTL 0) from every Map-Server and removes its route.</summary>
    /// <remarks>Moving a host back home withdraws its /32 while the host stays: pass <paramref name="removeRoute"/> false.</remarks>
    public Task BeginWithdrawHost(IPAddress address, IDatagramSink sink, bool removeRoute = true) => BeginWithdrawHosts([address], sink, removeRoute)[0];

    /// <summary>Withdraws many hosts at once, their records sharing Map-Registers; one task per address.</summary>
    public Task[] BeginWithdrawHosts(IReadOnlyList<IPAddress> addresses, IDatagramSink sink, bool removeRoute = true)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        return Call(sink, call => _registrar.Withdraw(addresses, removeRoute, call));
    }

    /// <summary>Re-registers everything now and opens the quick-registration window (after a restart or a change).</summary>
    public void RegisterNow(IDatagramSink sink) => Call(sink, call => { _registrar.RegisterNow(call); return 0; });

    /// <summary>The map-cache entries, most recently used first.</summary>
    public IReadOnlyList<MapCacheEntry> MapCacheEntries()
    {
        lock (_gate) { return _resolver.Entries; }
    }

    /// <summary>Removes the map-cache entries covering or inside <paramref name="filter"/>, or all (<c>clear ip lisp map-cache</c>); returns their prefixes.</summary>
    public IReadOnlyList<EidPrefix> ClearMapCache(EidPrefix? filter = null)
    {
        lock (_gate) { return _resolver.Clear(filter); }
    }

    /// <summary>The map-cache as last published: read by the data plane on any thread, without the engine's lock.</summary>
    public MapCacheSnapshot MapCacheSnapshot => _resolver.Snapshot;

    /// <summary>The live map-cache entry covering <paramref name="address"/> (marks it used), or null.</summary>
    public MapCacheEntry? LookupMapCache(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_gate) { return _resolver.Lookup(LispAddress.FromIPAddress(address), _site.Time.GetUtcNow()); }
    }

    /// <summary>
    /// The mapping of <paramref name="address"/>: from the map-cache when present (unless <paramref name="refresh"/>),
    /// else through the Map-Resolver. The task completes when a nonce-matched Map-Reply arrives.
    /// </summary>
    public Task<MapCacheEntry> BeginResolve(IPAddress address, IDatagramSink sink, bool refresh = false)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!_resolver.HasResolver) return Task.FromException<MapCacheEntry>(new InvalidOperationException($"site {Site} has no Map-Resolver configured"));
        var eid = LispAddress.FromIPAddress(address);
        return Call(sink, call => !refresh && _resolver.Lookup(eid, call.Now) is { } hit ? Task.FromResult(hit) : _resolver.Resolve(EidPrefix.Host(eid), call));
    }

    /// <summary>
    /// After a host moved in: solicits the ITRs of the remote sites this site talks to (the RLOCs of map-cache
    /// entries used recently), so they refresh their entry for the host at once. Returns the SMRs sent.
    /// </summary>
    public int SolicitRemoteItrs(IPAddress host, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(host);
        return Call(sink, call => _solicitation.SolicitRemoteItrs(LispAddress.FromIPAddress(host), call));
    }

    /// <inheritdoc cref="ITunnelRouter.HoldAway"/>
    public void HoldAway(IPAddress host, MapCacheEntry mapping, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(mapping);
        Call(sink, call =>
        {
            // The mapping came through the Map-Resolver: it stands where a Map-Server's news would name its sender.
            var source = _resolver.FirstResolver ?? new IPEndPoint(IPAddress.None, 0);
            if (!_site.IsOurs(mapping.Locators)) _away.GoAway(EidPrefix.Host(LispAddress.FromIPAddress(host)), mapping.Locators, source, call);
            return 0;
        });
    }

    /// <summary>
    /// An RLOC probe (Map-Request with P, RFC 9301 §7.1) to <paramref name="rloc"/>'s control port for <paramref name="eid"/>,
    /// outside the periodic rounds: the task completes when the locator answers. Pass the nonce to <see cref="EndProbe"/> when done waiting.
    /// </summary>
    public (ulong Nonce, Task Answered) BeginProbe(IPAddress rloc, IPAddress eid, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(rloc);
        ArgumentNullException.ThrowIfNull(eid);
        return Call(sink, call => _prober.ProbeOnce(LispAddress.FromIPAddress(rloc), EidPrefix.Host(LispAddress.FromIPAddress(eid)), call));
    }

    /// <summary>Forgets a probe of <see cref="BeginProbe"/> (answered or given up on).</summary>
    public void EndProbe(ulong nonce)
    {
        lock (_gate) { _prober.Forget(nonce); }
    }

    /// <summary>The remote locators this xTR probes or was told about: whether each is up, its probe counts and last round trip.</summary>
    public IReadOnlyList<RemoteRloc> RemoteRlocStatus()
    {
        lock (_gate) { return _prober.Status(); }
    }

    /// <summary>
    /// The locator-status bits of a data packet from <paramref name="sourceEid"/> (RFC 9300 §5.3; <paramref name="width"/> 8
    /// beside an instance ID, else 32): a locator of the sender's site they call down is not chosen until they call it up.
    /// </summary>
    public void TakeLocatorStatusBits(LispAddress sourceEid, uint bits, int width, IDatagramSink sink) =>
        Call(sink, call => { _prober.TakeLocatorStatusBits(sourceEid, bits, width, call); return 0; });

    /// <summary>
    /// Data-plane SMR (RFC 9301 §6.1): the ETR received data for <paramref name="eid"/>, which is away from here, from the
    /// ITR at <paramref name="itr"/>; that ITR is solicited to refresh (at most once per SMR interval per ITR and EID).
    /// </summary>
    public bool SolicitItr(IPAddress itr, IPAddress eid, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(itr);
        ArgumentNullException.ThrowIfNull(eid);
        return Call(sink, call => _solicitation.SendSmr(new IPEndPoint(itr, ControlPort), LispAddress.FromIPAddress(eid), call));
    }
}
