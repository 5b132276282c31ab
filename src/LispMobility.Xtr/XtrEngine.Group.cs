using System.Net;
using System.Text;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Transport;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Xtr;

// Extended-subnet mode (PROTOCOL.md, mobility 6): the xTRs that share a stretched subnet learn from each other at once,
// through a multicast map-notify group, that a host registered here — before, and independently of, the Map-Server.
public sealed partial class XtrEngine
{
    // Group messages are signed with HMAC-SHA-256-128 under this key-id and the range's group key.
    private const byte GroupKeyId = 1;

    // The map-notify group of each range that has one, and the keys those ranges share their groups with.
    private readonly IPEndPoint[] _groups;
    private readonly byte[][] _groupKeys;

    /// <summary>The map-notify groups of the extended-subnet ranges (the transport joins them).</summary>
    public IReadOnlyList<IPEndPoint> MapNotifyGroups => _groups;

    // Under _gate: the hosts whose range has a group, announced there with this site's RLOCs, signed with the range's group
    // key. Not acknowledged, as multicast never is.
    private void AnnounceToGroups(List<DynamicHost> hosts, IDatagramSink sink)
    {
        if (_groups.Length == 0 || hosts.Count == 0) return;
        foreach (var byGroup in hosts.Select(h => (Host: h, Range: GroupRangeOf(h.Eid.Address))).Where(x => x.Range is not null).GroupBy(x => x.Range!))
        {
            var group = byGroup.Key.MapNotifyGroupEndpoint!;
            var key = Encoding.UTF8.GetBytes(byGroup.Key.MapNotifyGroupKey!);
            var records = byGroup.Select(x => new MappingRecord { Eid = x.Host.Eid, Ttl = _options.RecordTtlMinutes, Authoritative = true, Locators = _rlocs });
            foreach (var batch in RecordBatches.Split(records, r => r)) SendGroupNotify(group, key, batch, sink);
        }
    }

    private void SendGroupNotify(IPEndPoint group, byte[] key, List<MappingRecord> records, IDatagramSink sink)
    {
        var notify = new MapNotify
        {
            Nonce = _nonces.Next(), KeyId = GroupKeyId, Algorithm = AuthAlgorithm.HmacSha256_128, Records = [.. records], XtrId = XtrId, SiteId = _options.SiteId,
        };
        sink.Send(notify.ToSignedArray(key), group);
        Counters.GroupNotifySent();
    }

    private DynamicEidOptions? GroupRangeOf(LispAddress eid)
    {
        foreach (var (o, p) in _ranges)
        {
            if (p.Contains(eid) && o.MapNotifyGroupEndpoint is not null) return o;
        }

        return null;
    }

    // A Map-Notify from a peer xTR on the group: authenticated with a group key; our own (looped back
    // by the kernel) ignored. A host with our RLOCs is at this site (a sibling xTR found it): no longer away here — the
    // Map-Server would not say so, having told only the registrant it replaced. A host this xTR holds, with another site's
    // RLOCs: away, as the Map-Server will say a moment later — unless this xTR is registering it right now: a group message
    // carries no order, and one sent before our host appeared here can still sit in our socket; the Map-Server orders the
    // two claims and tells the loser.
    private void HandleGroupNotify(ReadOnlySpan<byte> datagram, AuthenticatedMessageView view, IPEndPoint source, List<XtrEvent> events)
    {
        if (view.XtrId == XtrId) return;
        var signed = false;
        if (view.KeyId == GroupKeyId && view.Algorithm == AuthAlgorithm.HmacSha256_128)
        {
            foreach (var key in _groupKeys)
            {
                if (view.VerifyAuthentication(key, AuthPurpose.MapNotify))
                {
                    signed = true;
                    break;
                }
            }
        }

        if (!signed || !MapNotify.TryRead(datagram, out var notify, out _))
        {
            Counters.NotifyRejected();
            LogNotifyRejected(source, signed ? "malformed map-notify group message" : "not from a configured Map-Server, nor signed with a map-notify group key");
            return;
        }

        var now = _time.GetUtcNow();
        lock (_gate)
        {
            Counters.GroupNotifyReceived();
            foreach (var record in notify.Records)
            {
                if (!record.Eid.IsHost || record.Locators.Count == 0 || GroupRangeOf(record.Eid.Address) is null) continue;
                if (IsOurs(record.Locators)) ForgetAway(record.Eid, now, events, anyState: false);
                else if (!_hosts.TryGetValue(record.Eid.Address, out var held) || held.State != HostState.Registering) GoAway(record.Eid, record.Locators, source, now, events, onlyKnown: true);
                else Counters.GroupNotifyDeferred();
            }
        }
    }
}
