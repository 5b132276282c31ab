using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.Platform;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem;

public sealed partial class MapServer
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

    // Under _gate: per registrant address and EID, the news (a move, or the EID gone) it has not acknowledged yet, by nonce.
    private readonly Dictionary<(IPAddress Registrant, EidPrefix Eid), ulong> _unacknowledged = [];

    // Under _gate: news of a move a registrant never acknowledged (down, or unreachable, until the retransmissions gave up),
    // by registrant address and EID. Told again when that registrant next registers anything: an xTR that restarts learns
    // the EIDs that moved away from it while it was down, though its aggregate's registration is only a refresh here.
    private readonly Dictionary<(IPAddress Registrant, EidPrefix Eid), (IPEndPoint Destination, SiteKey Key)> _undelivered = [];

    // Under _gate: the moves found while one Map-Register is applied, told to each previous registrant together by
    // SendAnnouncements (a bulk failover moves dozens of EIDs per Map-Register; one Map-Notify and one ack each, not per EID).
    private readonly List<(IPEndPoint Destination, SiteKey Key, MappingRecord Record)> _announcements = [];

    // Under _gate: tell every previous registrant where the EID went, until each acknowledges.
    private void AnnounceMove(RegisteredEid entry, string fromSite, List<EtrRegistration> previous, DateTimeOffset now, List<MapServerEvent> events)
    {
        Counters.Move();
        var record = new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() };
        var notified = new List<IPEndPoint>();
        foreach (var p in previous.DistinctBy(p => p.Registrant.Address))
        {
            var destination = NotifyDestination(p.Registrant);
            _announcements.Add((destination, p.Key, record));
            notified.Add(destination);
            entry.AwayAt ??= [];
            if (!entry.AwayAt.Exists(a => a.Destination.Equals(destination))) entry.AwayAt.Add((destination, p.Key));
        }

        events.Add(new EidMoved(now, entry.Prefix, fromSite, entry.Site.Name, record.Locators, notified));
        if (_logger.IsEnabled(LogLevel.Information)) LogMoved(entry.Prefix.ToString(), fromSite, entry.Site.Name, notified.Count);
    }

    // Under _gate: the EID-prefix is gone (withdrawn or expired); the registrants that hold it away are told with a record
    // without locators (TTL 0), so that they drop the away state and the covering prefix serves them again.
    private void AnnounceGone(RegisteredEid entry)
    {
        if (entry.AwayAt is not { Count: > 0 } away) return;
        var record = new MappingRecord { Eid = entry.Prefix, Ttl = 0, Authoritative = true, Locators = [] };
        foreach (var (destination, key) in away) _announcements.Add((destination, key, record));
        entry.AwayAt = null;
    }

    // Under _gate: the news this registrant never acknowledged, queued again when the EID is still held by another registrant.
    private void RetellUndelivered(IPEndPoint source)
    {
        if (_undelivered.Count == 0) return;
        foreach (var (key, (destination, siteKey)) in _undelivered.Where(u => u.Key.Registrant.Equals(source.Address)).ToList())
        {
            _undelivered.Remove(key);
            if (!_table.TryGet(key.Eid, out var entry) || entry.Etrs.Count == 0 || entry.Etrs.Exists(e => e.Registrant.Address.Equals(source.Address))) continue;
            _announcements.Add((destination, siteKey, new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() }));
        }
    }

    // Under _gate: one Map-Notify per previous registrant and key for the moves AnnounceMove queued, as many records as fit.
    private void SendAnnouncements(DateTimeOffset now, IDatagramSink sink)
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
        var nonce = _nonces.Next();
        while (_pending.ContainsKey(nonce)) nonce = _nonces.Next();
        foreach (var r in records) _undelivered.Remove((destination.Address, r.Eid));
        // Newer news of an EID replaces what this registrant was told of it and has not acknowledged: a notification that
        // arrives late must not undo a later one (away after gone would blackhole an EID registered nowhere).
        foreach (var r in records) Supersede(destination, r.Eid);
        var notify = new MapNotify { Nonce = nonce, KeyId = key.KeyId, Algorithm = key.Algorithm, Records = [.. records] };
        var pending = new PendingNotify
        {
            Nonce = nonce, Records = [.. records], Datagram = notify.ToSignedArray(key.Secret), Destination = destination,
            Key = key, Transmissions = 1, Interval = _options.NotifyRetransmitInterval, NextDue = now + _options.NotifyRetransmitInterval,
        };
        _pending[nonce] = pending;
        foreach (var r in records) _unacknowledged[(destination.Address, r.Eid)] = nonce;

        sink.Send(pending.Datagram, pending.Destination);
        Counters.UnsolicitedNotify();
    }

    // Under _gate: a pending notification is done (acknowledged, or given up).
    private void Settle(PendingNotify p)
    {
        foreach (var r in p.Records)
        {
            if (_unacknowledged.TryGetValue((p.Destination.Address, r.Eid), out var nonce) && nonce == p.Nonce) _unacknowledged.Remove((p.Destination.Address, r.Eid));
        }
    }

    // Under _gate: the EID leaves the unacknowledged notification this registrant holds for it; one left empty is dropped,
    // one that still tells of other EIDs is signed again without it (same nonce: its ack still matches).
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

    // Under _gate: when the registrant at this address was told it lost the EID and has not acknowledged, its registration
    // of the EID is a refresh that crossed the news: the news goes again now, and the record is skipped (Apply says so, and
    // HandleRegister leaves the Map-Register unacknowledged).
    private bool CrossedTheNews(IPEndPoint source, EidPrefix eid, string news, IDatagramSink sink)
    {
        if (!_unacknowledged.TryGetValue((source.Address, eid), out var nonce) || !_pending.TryGetValue(nonce, out var p)) return false;
        sink.Send(p.Datagram, p.Destination);
        Counters.NotifyRetransmit();
        Counters.Reject(RejectReason.StaleRegistration);
        LogRejected(RejectReason.StaleRegistration, source, $"{eid} {news}; this registrant has not acknowledged that yet (told again)");
        return true;
    }

    // Under _gate. 3 retransmissions every interval, then NotifyBackoffRetries more with the interval doubling, then give up.
    private void RetransmitDue(DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events)
    {
        if (_pending.Count == 0) return;
        var maxTransmissions = 1 + _options.NotifyFixedRetries + _options.NotifyBackoffRetries;
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
                    LogNotifyGaveUp(r.Eid.ToString(), p.Destination, p.Transmissions);
                }
                continue;
            }

            sink.Send(p.Datagram, p.Destination);
            p.Transmissions++;
            Counters.NotifyRetransmit();
            if (p.Transmissions > 1 + _options.NotifyFixedRetries) p.Interval *= 2;
            else if (p.Transmissions == 1 + _options.NotifyFixedRetries) p.Interval *= 2;
            p.NextDue = now + p.Interval;
        }

        if (done is not null)
        {
            foreach (var n in done) _pending.Remove(n);
        }
    }

    private DateTimeOffset? NextNotifyDue()
    {
        DateTimeOffset? next = null;
        foreach (var p in _pending.Values)
        {
            if (next is null || p.NextDue < next) next = p.NextDue;
        }

        return next;
    }

    private void HandleNotifyAck(ReadOnlySpan<byte> datagram, IPEndPoint source, List<MapServerEvent> events)
    {
        if (!MapNotifyAck.TryReadView(datagram, out var view, out var error))
        {
            Counters.Reject(RejectReason.Malformed);
            LogMalformed("Map-Notify-Ack", source, error.ToString());
            return;
        }

        PendingNotify? pending;
        lock (_gate)
        {
            _pending.TryGetValue(view.Nonce, out pending);
        }

        if (pending is null || !view.VerifyAuthentication(pending.Key.Secret, AuthPurpose.MapNotifyAck))
        {
            Reject(RejectReason.UnmatchedNotifyAck, source, pending is null ? $"no Map-Notify pending with nonce {view.Nonce:x16}" : "Map-Notify-Ack authentication failed");
            return;
        }

        lock (_gate)
        {
            if (!_pending.Remove(view.Nonce)) return;
            Settle(pending);
            Counters.NotifyAck(); // counted with the removal: who sees no pending notify sees it counted
        }

        var now = _time.GetUtcNow();
        foreach (var r in pending.Records)
        {
            events.Add(new MoveNotifyAcknowledged(now, r.Eid, source, pending.Transmissions));
            if (_logger.IsEnabled(LogLevel.Information)) LogNotifyAcked(r.Eid.ToString(), source, pending.Transmissions);
        }
    }
}
