using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// The ETR's registrations: hosts registered and withdrawn on demand (each a <see cref="PendingRegistration"/> retransmitted
/// until every Map-Server acknowledged it or its deadline passed), the periodic registration of the whole database, and the
/// Map-Notifies that acknowledge them. Called under the engine's lock.
/// </summary>
internal sealed class Registrar(XtrSite site, HostTable hosts)
{
    // Map-Register nonces increase (a Map-Server drops a smaller one as a replay); each maps to what the register carried.
    private readonly NonceSource _registerNonces = NonceSource.Increasing(site.Time);
    private readonly Dictionary<ulong, (MapServerPeer Ms, (DynamicHost Host, PendingRegistration Request)[]? Hosts, DateTimeOffset Sent)> _pending = [];
    // Hosts whose request awaits acknowledgement: the only ones the timer has to look at.
    private readonly HashSet<DynamicHost> _inFlight = [];
    // Hosts whose registration passed its deadline unacknowledged: a periodic Map-Register's acknowledgement confirms them.
    // Kept apart so that each such acknowledgement does not walk every host (thousands of them per periodic round).
    private readonly HashSet<DynamicHost> _unconfirmed = [];
    private DateTimeOffset _quickUntil = site.Time.GetUtcNow() + site.Options.QuickRegisterWindow;
    private DateTimeOffset _nextPeriodic = site.Time.GetUtcNow();

    public IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged, DateTimeOffset? LastSent)> MapServerStatus() =>
        site.MapServers.Select(m => (m.Endpoint, m.LastAcknowledged, m.LastSent)).ToList();

    /// <summary>Registers hosts (their records sharing Map-Registers) and installs their host routes; one task per address.</summary>
    public Task<RegistrationResult>[] Register(IReadOnlyList<IPAddress> addresses, string? rangeName, XtrCall call, Action<List<DynamicHost>> announce)
    {
        var tasks = new Task<RegistrationResult>[addresses.Count];
        var started = new List<DynamicHost>(addresses.Count);
        var seen = new HashSet<LispAddress>();
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i] ?? throw new ArgumentException("a null address", nameof(addresses));
            var eid = LispAddress.FromIPAddress(address);
            var range = site.Ranges.FirstOrDefault(r => r.Prefix.Contains(eid) && (rangeName is null || string.Equals(r.Options.Name, rangeName, StringComparison.OrdinalIgnoreCase)));
            if (range.Options is null)
            {
                tasks[i] = Task.FromException<RegistrationResult>(new ArgumentException(
                    rangeName is null ? $"{address} is in no dynamic-EID range of site {site.Options.Site}" : $"{address} is not inside dynamic-EID range '{rangeName}' of site {site.Options.Site}", nameof(addresses)));
                continue;
            }

            if (!hosts.TryGet(eid, out var host) || host.State is HostState.Away or HostState.Withdrawing)
            {
                host = new DynamicHost { Eid = EidPrefix.Host(eid), Range = range.Options.Name, Interface = range.Options.Interface };
                hosts.Put(host);
            }

            // The same address twice in one call: one registration answers both waiters. A host already acknowledged is
            // registered again all the same (idempotent), so the caller sees the Map-Servers answer.
            if (seen.Add(eid))
            {
                Start(host, withdrawal: false, call.Now);
                started.Add(host);
                site.Routes.Enqueue(RouteChange.Host(address, host.Interface));
            }

            var tcs = new TaskCompletionSource<RegistrationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            host.Request!.Waiters.Add(tcs);
            tasks[i] = tcs.Task;
        }

        SendHostRegisters(started, call);
        announce(started);
        if (started.Count > 0) _quickUntil = call.Now + site.Options.QuickRegisterWindow;
        return tasks;
    }

    /// <summary>Withdraws hosts (record TTL 0), their records sharing Map-Registers; one task per address.</summary>
    public Task[] Withdraw(IReadOnlyList<IPAddress> addresses, bool removeRoute, XtrCall call)
    {
        var tasks = new Task[addresses.Count];
        var started = new List<DynamicHost>(addresses.Count);
        var seen = new HashSet<LispAddress>();
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i] ?? throw new ArgumentException("a null address", nameof(addresses));
            var eid = LispAddress.FromIPAddress(address);
            if (!hosts.TryGet(eid, out var host))
            {
                host = new DynamicHost { Eid = EidPrefix.Host(eid), Range = site.RangeOf(eid)?.Options.Name ?? "", Interface = null };
                hosts.Put(host);
            }

            // Another site holds it: nothing of ours is registered to withdraw, and the away state (its blackhole) must stay.
            if (host.State == HostState.Away)
            {
                tasks[i] = Task.CompletedTask;
                continue;
            }

            if (seen.Add(eid))
            {
                host.Request?.Fail($"registration of {host.Eid} superseded by its withdrawal", call);
                Start(host, withdrawal: true, call.Now);
                started.Add(host);
                if (removeRoute) site.Routes.Enqueue(RouteChange.Removal(address));
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            host.Request!.WithdrawWaiters.Add(tcs);
            tasks[i] = tcs.Task;
        }

        SendHostRegisters(started, call);
        return tasks;
    }

    /// <summary>Drops what is in flight for a host another site took: its registration fails, its withdrawal is moot.</summary>
    public void Abandon(DynamicHost host, string message, XtrCall call)
    {
        host.Request?.Fail(message, call);
        host.Request?.CompleteWithdrawals(call);
        _inFlight.Remove(host);
    }

    private void Start(DynamicHost host, bool withdrawal, DateTimeOffset now)
    {
        host.State = withdrawal ? HostState.Withdrawing : HostState.Registering;
        host.Since = now;
        host.Request = new PendingRegistration(withdrawal, now, site.Options.RegisterDeadline, site.Options.RegisterRetransmitInitial, site.MapServers.Length, host.Request);
        _inFlight.Add(host);
    }

    // The hosts' records to each Map-Server that has not acknowledged them yet, as many to a Map-Register as fit.
    private void SendHostRegisters(List<DynamicHost> batch, XtrCall call)
    {
        if (batch.Count == 0) return;
        foreach (var ms in site.MapServers)
        {
            var unacknowledged = batch.Where(h => !h.Request!.Acked[ms.Index]).Select(h => (Record: HostRecord(h), Host: h, h.Request!));
            foreach (var chunk in RecordBatches.Split(unacknowledged, x => x.Record))
            {
                SendRegister(ms, chunk.Select(x => x.Record).ToArray(), chunk.Select(x => (x.Host, x.Item3)).ToArray(), call);
            }
        }

        foreach (var host in batch) host.Request!.Sent(call.Now, site.Options.RegisterRetransmitMax);
    }

    // A withdrawal is the record with TTL 0 and no locators.
    private MappingRecord HostRecord(DynamicHost host) => new()
    {
        Eid = host.Eid, Ttl = host.State == HostState.Withdrawing ? 0 : site.Options.RecordTtlMinutes, Authoritative = true,
        Locators = host.State == HostState.Withdrawing ? [] : site.Rlocs,
    };

    private void SendRegister(MapServerPeer ms, MappingRecord[] records, (DynamicHost, PendingRegistration)[]? carried, XtrCall call)
    {
        var nonce = _registerNonces.Next();
        var register = new MapRegister
        {
            Nonce = nonce, KeyId = ms.Options.KeyId, Algorithm = ms.Options.Algorithm, TruncateMac = ms.Options.TruncateMac,
            ProxyMapReply = ms.Options.ProxyReply, WantMapNotify = true, MergeRequest = true, Records = records, XtrId = site.XtrId, SiteId = site.Options.SiteId,
        };
        _pending[nonce] = (ms, carried, call.Now);
        ms.LastSent = call.Now;
        call.Sink.Send(register.ToSignedArray(ms.Key), ms.Endpoint);
        site.Counters.RegisterSent();
    }

    /// <summary>Retransmissions, deadlines and periodic registration; returns when it next has work.</summary>
    public DateTimeOffset OnTimer(XtrCall call)
    {
        var now = call.Now;
        var next = DateTimeOffset.MaxValue;
        List<DynamicHost>? due = null;
        foreach (var host in _inFlight.ToArray())
        {
            var request = host.Request;
            if (request is null || host.State is not (HostState.Registering or HostState.Withdrawing) || request.AllAcked)
            {
                _inFlight.Remove(host);
                continue;
            }

            if (now >= request.Deadline)
            {
                Expire(host, request, call);
                continue;
            }

            if (now >= request.NextRetransmit)
            {
                (due ??= []).Add(host);
                site.Counters.RegisterRetransmit();
            }
            else
            {
                next = Min(next, Min(request.NextRetransmit, request.Deadline));
            }
        }

        if (due is not null)
        {
            SendHostRegisters(due, call);
            foreach (var host in due) next = Min(next, Min(host.Request!.NextRetransmit, host.Request.Deadline));
        }

        if (now >= _nextPeriodic)
        {
            SendPeriodicRegisters(call);
            _nextPeriodic = now + (now < _quickUntil ? site.Options.QuickRegisterInterval : site.Options.RegisterInterval);
        }

        // Registers unanswered for longer than the longest retransmission interval will never be acknowledged: forgotten
        // once there are many, so the table stays bounded.
        if (_pending.Count > 10_000)
        {
            foreach (var (nonce, p) in _pending.ToList())
            {
                if (now - p.Sent > site.Options.RegisterRetransmitMax) _pending.Remove(nonce);
            }
        }

        return Min(next, _nextPeriodic);
    }

    private void Expire(DynamicHost host, PendingRegistration request, XtrCall call)
    {
        var missing = string.Join(", ", site.MapServers.Where(m => !request.Acked[m.Index]).Select(m => m.Endpoint));
        var what = request.Withdrawal ? "withdrawal" : "registration";
        var message = $"Map-Server(s) {missing} did not acknowledge the {what} of {host.Eid} within {site.Options.RegisterDeadline.TotalSeconds:0.#} s ({request.Transmissions} transmissions)";
        XtrLog.RegisterTimeout(site.Logger, host.Eid.ToString(), missing, request.Transmissions);
        request.Fail(message, call);
        _inFlight.Remove(host);
        if (request.Withdrawal)
        {
            request.CompleteWithdrawals(call, new XtrRegistrationException(message));
            hosts.Forget(host);
        }
        else
        {
            host.State = HostState.Unconfirmed;
            _unconfirmed.Add(host);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    // The whole database (static prefixes and present hosts) to every Map-Server.
    private void SendPeriodicRegisters(XtrCall call)
    {
        var records = site.StaticPrefixes.Select(site.LocalRecord)
            .Concat(hosts.All.Where(h => h.State is HostState.Registered or HostState.Unconfirmed).Select(h => site.LocalRecord(h.Eid)))
            .ToArray();
        if (records.Length == 0) return;
        foreach (var ms in site.MapServers)
        {
            foreach (var chunk in RecordBatches.Split(records, r => r)) SendRegister(ms, [.. chunk], null, call);
        }
    }

    /// <summary>Re-registers everything now and opens the quick-registration window (after a restart or a change).</summary>
    public void RegisterNow(XtrCall call)
    {
        _quickUntil = call.Now + site.Options.QuickRegisterWindow;
        SendPeriodicRegisters(call);
        _nextPeriodic = call.Now + site.Options.QuickRegisterInterval;
    }

    /// <summary>Takes a Map-Notify from <paramref name="ms"/> as the acknowledgement of one of our Map-Registers; false when it answers none.</summary>
    public bool TryAcknowledge(MapServerPeer ms, ulong nonce, XtrCall call)
    {
        if (!_pending.Remove(nonce, out var pending) || pending.Ms != ms) return false;
        ms.LastAcknowledged = call.Now;
        site.Counters.RegisterAcknowledged();
        if (pending.Hosts is null)
        {
            // A periodic Map-Register carries every unconfirmed host: its acknowledgement confirms them too.
            foreach (var host in _unconfirmed.ToList())
            {
                // One registered, withdrawn, away or forgotten since is no longer this set's business.
                if (host.State == HostState.Unconfirmed && ReferenceEquals(hosts.Get(host.Eid.Address), host)) Acknowledge(host, host.Request, ms, call);
                if (host.State != HostState.Unconfirmed || !ReferenceEquals(hosts.Get(host.Eid.Address), host)) _unconfirmed.Remove(host);
            }
        }
        else
        {
            foreach (var (host, request) in pending.Hosts)
            {
                // A late Map-Notify for an earlier request (a register acked after the withdrawal started) is not this one's ack.
                if (ReferenceEquals(host.Request, request)) Acknowledge(host, request, ms, call);
            }
        }

        return true;
    }

    private void Acknowledge(DynamicHost host, PendingRegistration? request, MapServerPeer ms, XtrCall call)
    {
        if (request is null || host.State is not (HostState.Registering or HostState.Withdrawing or HostState.Unconfirmed)) return;
        request.Acked[ms.Index] = true;
        if (!request.AllAcked) return;
        var elapsed = call.Now - request.Started;
        _inFlight.Remove(host);
        if (host.State == HostState.Withdrawing)
        {
            hosts.Forget(host);
            request.CompleteWithdrawals(call);
            call.Events.Add(new HostWithdrawn(call.Now, host.Eid));
            return;
        }

        host.State = HostState.Registered;
        host.Since = call.Now;
        request.Succeed(new RegistrationResult(host.Eid, elapsed, request.Transmissions), call);
        call.Events.Add(new HostRegistered(call.Now, host.Eid, elapsed, request.Transmissions));
    }
}
