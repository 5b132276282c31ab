using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.MappingSystem.Resolution;
using LispMobility.Platform;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Serving;

/// <summary>
/// The Map-Server's news: unsolicited Map-Notifies telling previous registrants that an EID moved or is gone (retransmitted
/// until acknowledged, told again when a registrant that never acknowledged registers again), and the SMRs that solicit
/// the ITRs that asked for a changed EID. Called under the context's lock, except <see cref="HandleNotifyAck"/>, which takes it.
/// </summary>
internal sealed class Notifier(ServerContext context)
{
    /// <summary>An unsolicited Map-Notify waiting for its Map-Notify-Ack.</summary>
    private sealed class PendingNotify
    {
        public required ulong Nonce { get; init; }
        public required MappingRecord[] Records { get; set; }
        public required byte[] Datagram { get; set; }
        public required IPEndPoint Destination { get; init; }
        public required SiteKey Key { get; init; }
        public int Transmissions { get; set; }
        public TimeSpan Interval { get; set; }
        public DateTimeOffset NextDue { get; set; }
    }

    private readonly SmrScheduler _smr = new(context.Options, context.Time, context.Nonces);
    private readonly Dictionary<ulong, PendingNotify> _pending = [];

    // Per registrant address and EID, the news (a move, or the EID gone) it has not acknowledged yet, by nonce.
    private readonly Dictionary<(IPAddress Registrant, EidPrefix Eid), ulong> _unacknowledged = [];

    // News of a move a registrant never acknowledged (down, or unreachable, until the retransmissions gave up), by
    // registrant address and EID. Told again when that registrant next registers anything: an xTR that restarts learns
    // the EIDs that moved away from it while it was down, though its aggregate's registration is only a refresh here.
    private readonly Dictionary<(IPAddress Registrant, EidPrefix Eid), (IPEndPoint Destination, SiteKey Key)> _undelivered = [];

    // The EIDs some registrant was told it lost (a move), while they stay registered: what the registration of an aggregate
    // tells again (RegistrationHandler.RetellAggregate) is among these, so that it need not scan every registration.
    private readonly HashSet<RegisteredEid> _moved = [];

    // The moves found while one Map-Register is applied, told to each previous registrant together by SendAnnouncements
    // (a bulk failover moves dozens of EIDs per Map-Register; one Map-Notify and one ack each, not per EID).
    private readonly List<(IPEndPoint Destination, SiteKey Key, MappingRecord Record)> _announcements = [];

    private MapServerCounters Counters => context.Counters;

    /// <summary>Unsolicited Map-Notifies still waiting for their Map-Notify-Ack (under the lock).</summary>
    public int PendingCount => _pending.Count;

    /// <summary>An ITR asked for the EID: it is solicited when the EID's mapping changes.</summary>
    public void Requested(LispAddress eid, IPEndPoint itr, DateTimeOffset now) => _smr.Requested(eid, itr, now);

    /// <summary>The mapping of the prefix changed: its requesters get SMRs.</summary>
    public void MappingChanged(EidPrefix prefix, DateTimeOffset now) => _smr.MappingChanged(prefix, now);

    /// <summary>Sends the SMRs due; returns when the next one is.</summary>
    public DateTimeOffset? SendSmrsDue(DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events) => _smr.SendDue(now, sink, events, Counters);

    /// <summary>The registered EIDs some registrant was told it lost (under the lock).</summary>
    public IReadOnlyCollection<RegisteredEid> Moved => _moved;

    /// <summary>Tells every previous registrant where the EID went, until each acknowledges.</summary>
    public void AnnounceMove(RegisteredEid entry, string fromSite, List<EtrRegistration> previous, DateTimeOffset now, List<MapServerEvent> events)
    {
        Counters.Move();
        _moved.Add(entry);
        var record = new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() };
        var notified = new List<IPEndPoint>();
        foreach (var p in previous.DistinctBy(p => p.Registrant.Address))
        {
            var destination = context.NotifyDestination(p.Registrant);
            _announcements.Add((destination, p.Key, record));
            notified.Add(destination);
            entry.AwayAt ??= [];
            if (!entry.AwayAt.Exists(a => a.Destination.Equals(destination))) entry.AwayAt.Add((destination, p.Key));
        }

        events.Add(new EidMoved(now, entry.Prefix, fromSite, entry.Site.Name, record.Locators, notified));
        if (context.Logger.IsEnabled(LogLevel.Information)) MapServerLog.Moved(context.Logger, entry.Prefix.ToString(), fromSite, entry.Site.Name, notified.Count);
    }

    /// <summary>
    /// Tells the registrant of <paramref name="to"/> again that another site holds the EID (see RegistrationHandler's
    /// RetellAggregate), unless news of that EID is already on its way there: not a move, so neither counted nor logged as one.
    /// </summary>
    public void Retell(RegisteredEid entry, EtrRegistration to)
    {
        var destination = context.NotifyDestination(to.Registrant);
        if (_unacknowledged.ContainsKey((destination.Address, entry.Prefix))) return;
        _announcements.Add((destination, to.Key, new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() }));
        entry.AwayAt ??= [];
        if (!entry.AwayAt.Exists(a => a.Destination.Equals(destination))) entry.AwayAt.Add((destination, to.Key));
    }

    /// <summary>
    /// The EID-prefix is gone (withdrawn or expired); the registrants that hold it away are told with a record without
    /// locators (TTL 0), so that they drop the away state and the covering prefix serves them again.
    /// </summary>
    public void AnnounceGone(RegisteredEid entry)
    {
        _moved.Remove(entry);
        if (entry.AwayAt is not { Count: > 0 } away) return;
        var record = new MappingRecord { Eid = entry.Prefix, Ttl = 0, Authoritative = true, Locators = [] };
        foreach (var (destination, key) in away) _announcements.Add((destination, key, record));
        entry.AwayAt = null;
    }

    /// <summary>
    /// The registrant at <paramref name="registrant"/> takes the EID back in the Map-Register whose aggregate (applied first)
    /// queued the news that it lost it: that news is stale before it leaves, and would leave the registrant away for an EID it holds.
    /// </summary>
    public void Unannounce(IPAddress registrant, EidPrefix eid) =>
        _announcements.RemoveAll(a => a.Destination.Address.Equals(registrant) && a.Record.Eid == eid);

    /// <summary>The news this registrant never acknowledged, queued again when the EID is still held by another registrant.</summary>
    public void RetellUndelivered(IPEndPoint source, RegistrationTable table)
    {
        // The lambdas below capture source: their closure object is built on entry to the method that holds them, so the
        // common case (nothing undelivered, every Map-Register) returns before that method (issue #18).
        if (_undelivered.Count != 0) RetellUndeliveredTo(source, table);
    }

    private void RetellUndeliveredTo(IPEndPoint source, RegistrationTable table)
    {
        foreach (var (key, (destination, siteKey)) in _undelivered.Where(u => u.Key.Registrant.Equals(source.Address)).ToList())
        {
            _undelivered.Remove(key);
            if (!table.TryGet(key.Eid, out var entry) || entry.Etrs.Count == 0 || entry.Etrs.Exists(e => e.Registrant.Address.Equals(source.Address))) continue;
            // The refresh of an aggregate queued it already (Retell).
            if (_announcements.Exists(a => a.Destination.Address.Equals(source.Address) && a.Record.Eid == key.Eid)) continue;
            _announcements.Add((destination, siteKey, new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() }));
        }
    }

    /// <summary>One Map-Notify per previous registrant and key for the news queued, as many records as fit.</summary>
    public void SendAnnouncements(DateTimeOffset now, IDatagramSink sink)
    {
        if (_announcements.Count == 0) return;
        foreach (var group in _announcements.GroupBy(a => (a.Destination, a.Key)))
        {
            foreach (var batch in RecordBatches.Split(group.Select(a => a.Record), r => r)) SendAnnouncement(group.Key.Destination, group.Key.Key, batch, now, sink);
        }

        _announcements.Clear();
    }

    private void SendAnnouncement(IPEndPoint destination, SiteKey key, List<MappingRecord> records, DateTimeOffset now, IDatagramSink sink)
    {
        var nonce = context.Nonces.Next();
        while (_pending.ContainsKey(nonce)) nonce = context.Nonces.Next();
        foreach (var r in records) _undelivered.Remove((destination.Address, r.Eid));
        // Newer news of an EID replaces what this registrant was told of it and has not acknowledged: a notification that
        // arrives late must not undo a later one (away after gone would blackhole an EID registered nowhere).
        foreach (var r in records) Supersede(destination, r.Eid);
        var notify = new MapNotify { Nonce = nonce, KeyId = key.KeyId, Algorithm = key.Algorithm, Records = [.. records] };
        var options = context.Options;
        var pending = new PendingNotify
        {
            Nonce = nonce, Records = [.. records], Datagram = notify.ToSignedArray(key.Secret), Destination = destination,
            Key = key, Transmissions = 1, Interval = options.NotifyRetransmitInterval, NextDue = now + options.NotifyRetransmitInterval,
        };
        _pending[nonce] = pending;
        foreach (var r in records) _unacknowledged[(destination.Address, r.Eid)] = nonce;

        sink.Send(pending.Datagram, pending.Destination);
        Counters.UnsolicitedNotify();
    }

    // A pending notification is done (acknowledged, or given up).
    private void Settle(PendingNotify p)
    {
        foreach (var r in p.Records)
        {
            if (_unacknowledged.TryGetValue((p.Destination.Address, r.Eid), out var nonce) && nonce == p.Nonce) _unacknowledged.Remove((p.Destination.Address, r.Eid));
        }
    }

    // The EID leaves the unacknowledged notification this registrant holds for it; one left empty is dropped, one that
    // still tells of other EIDs is signed again without it (same nonce: its ack still matches).
    private void Supersede(IPEndPoint destination, EidPrefix eid)
    {
        if (!_unacknowledged.Remove((destination.Address, eid), out var nonce) || !_pending.TryGetValue(nonce, out var p)) return;
        var left = p.Records.Where(r => r.Eid != eid).ToArray();
        if (left.Length == 0)
        {
            _pending.Remove(nonce);
            return;
        }

        p.Records = left;
        p.Datagram = new MapNotify { Nonce = nonce, KeyId = p.Key.KeyId, Algorithm = p.Key.Algorithm, Records = left }.ToSignedArray(p.Key.Secret);
    }

    /// <summary>
    /// When the registrant at this address was told it lost the EID and has not acknowledged, its registration of the EID
    /// is a refresh that crossed the news: the news goes again now, and the record is skipped (the caller leaves the
    /// Map-Register unacknowledged).
    /// </summary>
    public bool CrossedTheNews(IPEndPoint source, EidPrefix eid, string news, IDatagramSink sink)
    {
        if (_unacknowledged.Count == 0 || !_unacknowledged.TryGetValue((source.Address, eid), out var nonce) || !_pending.TryGetValue(nonce, out var p)) return false;
        sink.Send(p.Datagram, p.Destination);
        Counters.NotifyRetransmit();
        Counters.Reject(RejectReason.StaleRegistration);
        MapServerLog.Rejected(context.Logger, RejectReason.StaleRegistration, source, $"{eid} {news}; this registrant has not acknowledged that yet (told again)");
        return true;
    }

    /// <summary>3 retransmissions every interval, then NotifyBackoffRetries more with the interval doubling, then give up.</summary>
    public void RetransmitDue(DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events)
    {
        if (_pending.Count == 0) return;
        var options = context.Options;
        var maxTransmissions = 1 + options.NotifyFixedRetries + options.NotifyBackoffRetries;
        List<ulong>? done = null;
        foreach (var p in _pending.Values)
        {
            if (p.NextDue > now) continue;
            if (p.Transmissions >= maxTransmissions)
            {
                (done ??= []).Add(p.Nonce);
                Settle(p);
                Counters.NotifyGiveUp();
                foreach (var r in p.Records)
                {
                    if (r.Locators.Count > 0) _undelivered[(p.Destination.Address, r.Eid)] = (p.Destination, p.Key);
                    events.Add(new MoveNotifyGaveUp(now, r.Eid, p.Destination, p.Transmissions));
                    MapServerLog.NotifyGaveUp(context.Logger, r.Eid.ToString(), p.Destination, p.Transmissions);
                }
                continue;
            }

            sink.Send(p.Datagram, p.Destination);
            p.Transmissions++;
            Counters.NotifyRetransmit();
            if (p.Transmissions > 1 + options.NotifyFixedRetries) p.Interval *= 2;
            else if (p.Transmissions == 1 + options.NotifyFixedRetries) p.Interval *= 2;
            p.NextDue = now + p.Interval;
        }

        if (done is not null)
        {
            foreach (var n in done) _pending.Remove(n);
        }
    }

    /// <summary>When the next retransmission is due, if any is pending.</summary>
    public DateTimeOffset? NextNotifyDue()
    {
        DateTimeOffset? next = null;
        foreach (var p in _pending.Values)
        {
            if (next is null || p.NextDue < next) next = p.NextDue;
        }

        return next;
    }

    /// <summary>A Map-Notify-Ack: settles the notification it acknowledges (takes the lock; the MAC is checked outside it).</summary>
    public void HandleNotifyAck(ReadOnlySpan<byte> datagram, IPEndPoint source, List<MapServerEvent> events)
    {
        if (!MapNotifyAck.TryReadView(datagram, out var view, out var error))
        {
            Counters.Reject(RejectReason.Malformed);
            MapServerLog.Malformed(context.Logger, "Map-Notify-Ack", source, error.ToString());
            return;
        }

        PendingNotify? pending;
        lock (context.Gate)
        {
            _pending.TryGetValue(view.Nonce, out pending);
        }

        if (pending is null || !view.VerifyAuthentication(pending.Key.Secret, AuthPurpose.MapNotifyAck))
        {
            context.Reject(RejectReason.UnmatchedNotifyAck, source, pending is null ? $"no Map-Notify pending with nonce {view.Nonce:x16}" : "Map-Notify-Ack authentication failed");
            return;
        }

        lock (context.Gate)
        {
            if (!_pending.Remove(view.Nonce)) return;
            Settle(pending);
            Counters.NotifyAck(); // counted with the removal: who sees no pending notify sees it counted
        }

        var now = context.Time.GetUtcNow();
        foreach (var r in pending.Records)
        {
            events.Add(new MoveNotifyAcknowledged(now, r.Eid, source, pending.Transmissions));
            if (context.Logger.IsEnabled(LogLevel.Information)) MapServerLog.NotifyAcked(context.Logger, r.Eid.ToString(), source, pending.Transmissions);
        }
    }
}
