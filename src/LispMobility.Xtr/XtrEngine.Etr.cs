using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Transport;
using LispMobility.Xtr.Routing;

namespace LispMobility.Xtr;

public sealed partial class XtrEngine
{
    private readonly Dictionary<LispAddress, DynamicHost> _hosts = [];
    // Per nonce: the hosts the Map-Register carried and the generation of each (null for a periodic one).
    private readonly Dictionary<ulong, (MapServerPeer Ms, (DynamicHost Host, int Generation)[]? Hosts, DateTimeOffset Sent)> _pendingRegisters = [];
    // Hosts whose registration or withdrawal awaits acknowledgement: the only ones the timer has to look at.
    private readonly HashSet<DynamicHost> _inFlight = [];
    private DateTimeOffset _quickUntil;
    private DateTimeOffset _nextPeriodic;

    private sealed class DynamicHost
    {
        public required EidPrefix Eid { get; init; }
        public required string Range { get; init; }
        public required string? Interface { get; init; }
        public HostState State { get; set; }
        public DateTimeOffset Since { get; set; }
        public DateTimeOffset Started { get; set; }
        public DateTimeOffset Deadline { get; set; }
        public DateTimeOffset NextRetransmit { get; set; }
        public TimeSpan Interval { get; set; }
        public int Transmissions { get; set; }

        // Bumped by every new registration or withdrawal of the host, so that a late Map-Notify for an
        // earlier one (a register acked after the withdrawal started) is not taken as this one's ack.
        public int Generation { get; set; }
        public bool[] Acked { get; set; } = [];
        public List<TaskCompletionSource<RegistrationResult>> Waiters { get; } = [];
        public List<TaskCompletionSource> WithdrawWaiters { get; } = [];
    }

    /// <summary>The dynamic hosts and their state.</summary>
    public IReadOnlyList<HostInfo> Hosts()
    {
        lock (_gate) { return _hosts.Values.Select(h => new HostInfo(h.Eid, h.Range, h.State, h.Since)).OrderBy(h => h.Eid.ToString(), StringComparer.Ordinal).ToList(); }
    }

    /// <summary>The state of one host, or null when unknown.</summary>
    public HostState? StateOf(IPAddress address)
    {
        lock (_gate) { return _hosts.TryGetValue(LispAddress.FromIPAddress(address), out var h) ? h.State : null; }
    }

    /// <summary>When each Map-Server last acknowledged a registration.</summary>
    public IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged)> MapServerStatus()
    {
        lock (_gate) { return _mapServers.Select(m => (m.Endpoint, m.LastAcknowledged)).ToList(); }
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
        var tasks = new Task<RegistrationResult>[addresses.Count];
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var started = new List<DynamicHost>(addresses.Count);
            var seen = new HashSet<LispAddress>();
            for (var i = 0; i < addresses.Count; i++)
            {
                var address = addresses[i] ?? throw new ArgumentException("a null address", nameof(addresses));
                var eid = LispAddress.FromIPAddress(address);
                var range = _ranges.FirstOrDefault(r => r.Prefix.Contains(eid) && (rangeName is null || string.Equals(r.Options.Name, rangeName, StringComparison.OrdinalIgnoreCase)));
                if (range.Options is null)
                {
                    tasks[i] = Task.FromException<RegistrationResult>(new ArgumentException(
                        rangeName is null ? $"{address} is in no dynamic-EID range of site {Site}" : $"{address} is not inside dynamic-EID range '{rangeName}' of site {Site}", nameof(addresses)));
                    continue;
                }

                if (!_hosts.TryGetValue(eid, out var host) || host.State is HostState.Away or HostState.Withdrawing)
                {
                    host = new DynamicHost { Eid = EidPrefix.Host(eid), Range = range.Options.Name, Interface = range.Options.Interface };
                    _hosts[eid] = host;
                }

                var tcs = new TaskCompletionSource<RegistrationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                host.Waiters.Add(tcs);
                tasks[i] = tcs.Task;

                // The same address twice in one call: one registration answers both waiters. A host already acknowledged is
                // registered again all the same (idempotent), so the caller sees the Map-Servers answer.
                if (!seen.Add(eid)) continue;
                StartHostRegistration(host, HostState.Registering, now);
                started.Add(host);
                _routes.Enqueue(RouteChange.Host(address, host.Interface));
            }

            SendHostRegisters(started, now, sink);
            AnnounceToGroups(started, sink);
            if (started.Count > 0) _quickUntil = now + _options.QuickRegisterWindow;
        }

        return tasks;
    }

    /// <summary>Withdraws a host's /32 (record TTL 0) from every Map-Server and removes its route.</summary>
    /// <remarks>Moving a host back home withdraws its /32 while the host stays: pass <paramref name="removeRoute"/> false.</remarks>
    public Task BeginWithdrawHost(IPAddress address, IDatagramSink sink, bool removeRoute = true) => BeginWithdrawHosts([address], sink, removeRoute)[0];

    /// <summary>Withdraws many hosts at once, their records sharing Map-Registers; one task per address.</summary>
    public Task[] BeginWithdrawHosts(IReadOnlyList<IPAddress> addresses, IDatagramSink sink, bool removeRoute = true)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var tasks = new Task[addresses.Count];
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var started = new List<DynamicHost>(addresses.Count);
            var seen = new HashSet<LispAddress>();
            for (var i = 0; i < addresses.Count; i++)
            {
                var address = addresses[i] ?? throw new ArgumentException("a null address", nameof(addresses));
                var eid = LispAddress.FromIPAddress(address);
                if (!_hosts.TryGetValue(eid, out var host))
                {
                    host = new DynamicHost { Eid = EidPrefix.Host(eid), Range = RangeOf(address) ?? "", Interface = null };
                    _hosts[eid] = host;
                }

                // Another site holds it: nothing of ours is registered to withdraw, and the away state (its blackhole) must stay.
                if (host.State == HostState.Away)
                {
                    tasks[i] = Task.CompletedTask;
                    continue;
                }

                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                host.WithdrawWaiters.Add(tcs);
                tasks[i] = tcs.Task;
                if (!seen.Add(eid)) continue;
                FailWaiters(host, $"registration of {host.Eid} superseded by its withdrawal");
                StartHostRegistration(host, HostState.Withdrawing, now);
                started.Add(host);
                if (removeRoute) _routes.Enqueue(RouteChange.Removal(address));
            }

            SendHostRegisters(started, now, sink);
        }

        return tasks;
    }

    // Under _gate.
    private void StartHostRegistration(DynamicHost host, HostState state, DateTimeOffset now)
    {
        host.State = state;
        _inFlight.Add(host);
        host.Since = now;
        host.Started = now;
        host.Deadline = now + _options.RegisterDeadline;
        host.Interval = _options.RegisterRetransmitInitial;
        host.Transmissions = 0;
        host.Generation++;
        host.Acked = new bool[_mapServers.Length];
    }

    // Under _gate: the hosts' records to each Map-Server that has not acknowledged them yet, as many to a Map-Register as fit.
    private void SendHostRegisters(List<DynamicHost> hosts, DateTimeOffset now, IDatagramSink sink)
    {
        if (hosts.Count == 0) return;
        foreach (var ms in _mapServers)
        {
            var unacknowledged = hosts.Where(h => !h.Acked[ms.Index]).Select(h => (Record: HostRecord(h), Host: h, h.Generation));
            foreach (var batch in RecordBatches.Split(unacknowledged, x => x.Record))
            {
                SendRegister(ms, batch.Select(x => x.Record).ToArray(), batch.Select(x => (x.Host, x.Generation)).ToArray(), sink);
            }
        }

        foreach (var host in hosts)
        {
            host.Transmissions++;
            host.NextRetransmit = now + host.Interval;
            var doubled = host.Interval * 2;
            host.Interval = doubled > _options.RegisterRetransmitMax ? _options.RegisterRetransmitMax : doubled;
        }
    }

    // A withdrawal is the record with TTL 0 and no locators.
    private MappingRecord HostRecord(DynamicHost host) => new()
    {
        Eid = host.Eid, Ttl = host.State == HostState.Withdrawing ? 0 : _options.RecordTtlMinutes, Authoritative = true,
        Locators = host.State == HostState.Withdrawing ? [] : _rlocs,
    };

    private void SendRegister(MapServerPeer ms, MappingRecord[] records, (DynamicHost, int)[]? hosts, IDatagramSink sink)
    {
        var nonce = _registerNonces.Next();
        var register = new MapRegister
        {
            Nonce = nonce, KeyId = ms.Options.KeyId, Algorithm = ms.Options.Algorithm, TruncateMac = ms.Options.TruncateMac,
            ProxyMapReply = ms.Options.ProxyReply, WantMapNotify = true, MergeRequest = true, Records = records, XtrId = XtrId, SiteId = _options.SiteId,
        };
        _pendingRegisters[nonce] = (ms, hosts, _time.GetUtcNow());
        sink.Send(register.ToSignedArray(ms.Key), ms.Endpoint);
        Counters.RegisterSent();
    }

    // Under _gate: retransmissions, deadlines, periodic registration; returns the next due time.
    private DateTimeOffset RegistrationTimers(DateTimeOffset now, IDatagramSink sink)
    {
        var next = DateTimeOffset.MaxValue;
        List<DynamicHost>? due = null;
        foreach (var host in _inFlight.ToArray())
        {
            if (host.State is not (HostState.Registering or HostState.Withdrawing) || host.Acked.All(a => a))
            {
                _inFlight.Remove(host);
                continue;
            }

            if (now >= host.Deadline)
            {
                var missing = string.Join(", ", _mapServers.Where(m => !host.Acked[m.Index]).Select(m => m.Endpoint));
                var what = host.State == HostState.Withdrawing ? "withdrawal" : "registration";
                var message = $"Map-Server(s) {missing} did not acknowledge the {what} of {host.Eid} within {_options.RegisterDeadline.TotalSeconds:0.#} s ({host.Transmissions} transmissions)";
                LogRegisterTimeout(host.Eid.ToString(), missing, host.Transmissions);
                FailWaiters(host, message);
                if (host.State == HostState.Withdrawing)
                {
                    CompleteWithdrawals(host, new XtrRegistrationException(message));
                    Forget(host);
                }
                else
                {
                    host.State = HostState.Unconfirmed;
                }

                continue;
            }

            if (now >= host.NextRetransmit)
            {
                (due ??= []).Add(host);
                Counters.RegisterRetransmit();
            }
            else
            {
                next = Min(next, Min(host.NextRetransmit, host.Deadline));
            }
        }

        if (due is not null)
        {
            SendHostRegisters(due, now, sink);
            foreach (var host in due) next = Min(next, Min(host.NextRetransmit, host.Deadline));
        }

        if (now >= _nextPeriodic)
        {
            SendPeriodicRegisters(sink);
            _nextPeriodic = now + (now < _quickUntil ? _options.QuickRegisterInterval : _options.RegisterInterval);
        }

        // Forget register nonces that were never answered so the table stays bounded.
        if (_pendingRegisters.Count > 10_000)
        {
            // Registers unanswered for longer than the longest retransmission interval will never be acknowledged.
            foreach (var (nonce, p) in _pendingRegisters.ToList())
            {
                if (now - p.Sent > _options.RegisterRetransmitMax) _pendingRegisters.Remove(nonce);
            }
        }
        return Min(next, _nextPeriodic);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    // Under _gate: the whole database (static prefixes and present hosts) to every Map-Server.
    private void SendPeriodicRegisters(IDatagramSink sink)
    {
        var records = _static.Select(p => new MappingRecord { Eid = p, Ttl = _options.RecordTtlMinutes, Authoritative = true, Locators = _rlocs })
            .Concat(_hosts.Values.Where(h => h.State is HostState.Registered or HostState.Unconfirmed)
                .Select(h => new MappingRecord { Eid = h.Eid, Ttl = _options.RecordTtlMinutes, Authoritative = true, Locators = _rlocs }))
            .ToArray();
        if (records.Length == 0) return;
        foreach (var ms in _mapServers)
        {
            foreach (var batch in RecordBatches.Split(records, r => r)) SendRegister(ms, [.. batch], null, sink);
        }
    }

    /// <summary>Re-registers everything now and opens the quick-registration window (after a restart or a change).</summary>
    public void RegisterNow(IDatagramSink sink)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            _quickUntil = now + _options.QuickRegisterWindow;
            SendPeriodicRegisters(sink);
            _nextPeriodic = now + _options.QuickRegisterInterval;
        }
    }

    private void HandleMapNotify(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink, List<XtrEvent> events)
    {
        if (!MapNotify.TryReadView(datagram, out var view, out var error))
        {
            Counters.Malformed();
            LogMalformed("Map-Notify", source, error.ToString());
            return;
        }

        var ms = _mapServers.FirstOrDefault(m => m.Endpoint.Address.Equals(source.Address));
        if (ms is null && _groups.Length > 0)
        {
            HandleGroupNotify(datagram, view, source, events);
            return;
        }

        if (ms is null || !view.VerifyAuthentication(ms.Key, AuthPurpose.MapNotify))
        {
            Counters.NotifyRejected();
            LogNotifyRejected(source, ms is null ? "not from a configured Map-Server" : "authentication failed");
            return;
        }

        if (!MapNotify.TryRead(datagram, out var notify, out error))
        {
            Counters.Malformed();
            LogMalformed("Map-Notify", source, error.ToString());
            return;
        }

        // Our own Map-Registers carry our xTR-ID and their Map-Notifies echo it: one that no pending register claims is a late
        // or duplicated acknowledgement. The Map-Server's own news (a move, a withdrawal) carries none.
        var echo = view.XtrId == XtrId;
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_pendingRegisters.Remove(view.Nonce, out var pending) && pending.Ms == ms)
            {
                ms.LastAcknowledged = now;
                Counters.RegisterAcknowledged();
                if (pending.Hosts is null) ConfirmByPeriodic(ms, now, events);
                else
                {
                    foreach (var (host, generation) in pending.Hosts)
                    {
                        if (generation == host.Generation) Acknowledge(host, ms, now, events);
                    }
                }
                return;
            }

            if (echo) return;

            // The Map-Server sends its news again, the same datagram, until it is acknowledged: a copy of news applied here
            // already (our acknowledgement was lost) is acknowledged again, not applied again. The host may have come back
            // since, and old news must not undo the registration it now has under way.
            if (!ms.News.Add(view.Nonce, now)) Counters.NotifyDuplicate();
            else ApplyNews(notify, source, now, events);
        }

        var ack = MapNotifyAck.For(notify) with { TruncateMac = view.AuthenticationLength == LispAuthentication.TruncatedLength(view.Algorithm) };
        sink.Send(ack.ToSignedArray(ms.Key), source);
        Counters.NotifyAckSent();
    }

    // Under _gate. Unsolicited: the mapping of some of our EIDs changed (RFC 9301 §5.7, eid-mobility).
    private void ApplyNews(MapNotify notify, IPEndPoint source, DateTimeOffset now, List<XtrEvent> events)
    {
        foreach (var record in notify.Records)
        {
            if (IsOurs(record.Locators) || !record.Eid.IsHost) continue;
            if (record.Locators.Count == 0) ForgetAway(record.Eid, now, events, anyState: true);
            else GoAway(record.Eid, record.Locators, source, now, events);
        }
    }

    // Under _gate. Another site holds the EID now (told by the Map-Server, or by a map-notify group): blackhole it here.
    // A group tells every xTR on the LAN of every host (onlyKnown): only a host this xTR holds goes away; the Map-Server tells
    // only a previous registrant, which may have forgotten the host (a restart) and must still blackhole it.
    private void GoAway(EidPrefix eidPrefix, IReadOnlyList<Locator> locators, IPEndPoint source, DateTimeOffset now, List<XtrEvent> events, bool onlyKnown = false)
    {
        var eid = eidPrefix.Address;
        var inRange = _ranges.Any(r => r.Prefix.Contains(eid));
        if (!_hosts.TryGetValue(eid, out var host) && (!inRange || onlyKnown)) return;
        if (host is null)
        {
            host = new DynamicHost { Eid = eidPrefix, Range = _ranges.First(r => r.Prefix.Contains(eid)).Options.Name, Interface = null };
            _hosts[eid] = host;
        }

        if (host.State == HostState.Away) return;
        FailWaiters(host, $"{host.Eid} registered by another site while its registration here was in progress");
        // A withdrawal is moot once another site holds the EID: the Map-Server dropped our registration.
        CompleteWithdrawals(host);
        host.State = HostState.Away;
        host.Since = now;
        _routes.Enqueue(RouteChange.Blackhole(eid.ToIPAddress()));
        Counters.WentAway();
        events.Add(new HostAway(now, host.Eid, locators, source));
        LogAway(host.Eid.ToString(), source);
    }

    // Under _gate. The /32 is gone from the mapping system (withdrawn as it went home, or expired), and the Map-Server tells
    // only registrants it told they lost it: the away state and its blackhole go, so that the covering prefix (the home
    // aggregate, or this site's own) serves the EID again. Still registered here means the news of the loss was lost on the
    // way and this is the later news: the registration is given up too.
    private void ForgetAway(EidPrefix eid, DateTimeOffset now, List<XtrEvent> events, bool anyState)
    {
        if (!_hosts.TryGetValue(eid.Address, out var host) || !anyState && host.State != HostState.Away) return;
        var was = host.State;
        FailWaiters(host, $"{host.Eid} was taken by another site and is now registered nowhere");
        CompleteWithdrawals(host);
        Forget(host);
        _routes.Enqueue(RouteChange.Removal(eid.Address.ToIPAddress()));
        events.Add(new HostAwayCleared(now, eid));
        LogAwayCleared(eid.ToString(), was.ToString());
    }

    // Under _gate.
    private void Acknowledge(DynamicHost host, MapServerPeer ms, DateTimeOffset now, List<XtrEvent> events)
    {
        if (host.State is not (HostState.Registering or HostState.Withdrawing or HostState.Unconfirmed) || host.Acked.Length <= ms.Index) return;
        host.Acked[ms.Index] = true;
        if (!host.Acked.All(a => a)) return;
        var elapsed = now - host.Started;
        if (host.State == HostState.Withdrawing)
        {
            Forget(host);
            CompleteWithdrawals(host);
            events.Add(new HostWithdrawn(now, host.Eid));
            return;
        }

        host.State = HostState.Registered;
        host.Since = now;
        var result = new RegistrationResult(host.Eid, elapsed, host.Transmissions);
        foreach (var w in host.Waiters) _completions.Add((() => w.TrySetResult(result)));
        host.Waiters.Clear();
        events.Add(new HostRegistered(now, host.Eid, elapsed, host.Transmissions));
    }

    // Under _gate. A periodic Map-Register carries every unconfirmed host: its acknowledgement confirms them too.
    private void ConfirmByPeriodic(MapServerPeer ms, DateTimeOffset now, List<XtrEvent> events)
    {
        foreach (var host in _hosts.Values)
        {
            if (host.State == HostState.Unconfirmed) Acknowledge(host, ms, now, events);
        }
    }

    // Under _gate. Removes the host from the database only if it is still the entry of its address (a new registration may have replaced it).
    private void Forget(DynamicHost host)
    {
        _inFlight.Remove(host);
        if (_hosts.TryGetValue(host.Eid.Address, out var current) && ReferenceEquals(current, host)) _hosts.Remove(host.Eid.Address);
    }

    // Under _gate. Ends the host's withdrawals: done (also when another site took the EID, nothing of ours being registered any
    // more), or failed with error.
    private void CompleteWithdrawals(DynamicHost host, Exception? error = null)
    {
        foreach (var w in host.WithdrawWaiters) _completions.Add(() => { if (error is null) w.TrySetResult(); else w.TrySetException(error); });
        host.WithdrawWaiters.Clear();
    }

    // Under _gate.
    private void FailWaiters(DynamicHost host, string message)
    {
        foreach (var w in host.Waiters) _completions.Add((() => w.TrySetException(new XtrRegistrationException(message))));
        host.Waiters.Clear();
    }
}
