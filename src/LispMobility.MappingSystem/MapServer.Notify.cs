using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Registrations;
using LispMobility.Transport;

namespace LispMobility.MappingSystem;

public sealed partial class MapServer
{
    /// <summary>An unsolicited Map-Notify waiting for its Map-Notify-Ack.</summary>
    private sealed class PendingNotify
    {
        public required ulong Nonce { get; init; }
        public required EidPrefix Eid { get; init; }
        public required byte[] Datagram { get; init; }
        public required IPEndPoint Destination { get; init; }
        public required SiteKey Key { get; init; }
        public int Transmissions { get; set; }
        public TimeSpan Interval { get; set; }
        public DateTimeOffset NextDue { get; set; }
    }

    // Under _gate: tell every previous registrant where the EID went, until each acknowledges.
    private void AnnounceMove(RegisteredEid entry, string fromSite, List<EtrRegistration> previous, DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events)
    {
        Counters.Move();
        var record = new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Authoritative = true, Locators = entry.MergedLocators() };
        var notified = new List<IPEndPoint>();
        foreach (var p in previous.DistinctBy(p => p.Registrant.Address))
        {
            var nonce = _nonces.Next();
            while (_pending.ContainsKey(nonce)) nonce = _nonces.Next();
            var notify = new MapNotify { Nonce = nonce, KeyId = p.Key.KeyId, Algorithm = p.Key.Algorithm, Records = [record] };
            var pending = new PendingNotify
            {
                Nonce = nonce, Eid = entry.Prefix, Datagram = notify.ToSignedArray(p.Key.Secret), Destination = NotifyDestination(p.Registrant),
                Key = p.Key, Transmissions = 1, Interval = _options.NotifyRetransmitInterval, NextDue = now + _options.NotifyRetransmitInterval,
            };
            _pending[nonce] = pending;
            sink.Send(pending.Datagram, pending.Destination);
            Counters.UnsolicitedNotify();
            notified.Add(pending.Destination);
        }

        events.Add(new EidMoved(now, entry.Prefix, fromSite, entry.Site.Name, record.Locators, notified));
        LogMoved(entry.Prefix.ToString(), fromSite, entry.Site.Name, notified.Count);
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
                Counters.NotifyGiveUp();
                events.Add(new MoveNotifyGaveUp(now, p.Eid, p.Destination, p.Transmissions));
                LogNotifyGaveUp(p.Eid.ToString(), p.Destination, p.Transmissions);
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
        }

        Counters.NotifyAck();
        events.Add(new MoveNotifyAcknowledged(_time.GetUtcNow(), pending.Eid, source, pending.Transmissions));
        LogNotifyAcked(pending.Eid.ToString(), source, pending.Transmissions);
    }
}
