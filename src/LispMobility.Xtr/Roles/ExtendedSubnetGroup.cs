using System.Net;
using System.Text;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// Extended-subnet mode (PROTOCOL.md, mobility 6): the xTRs that share a stretched subnet learn from each other at once,
/// through a multicast map-notify group, that a host registered here — before, and independently of, the Map-Server.
/// Called under the engine's lock.
/// </summary>
internal sealed class ExtendedSubnetGroup
{
    // Group messages are signed with HMAC-SHA-256-128 under this key-id and the range's group key.
    private const byte GroupKeyId = 1;

    private readonly XtrSite _site;
    private readonly HostTable _hosts;
    private readonly AwayState _away;
    // The map-notify group of each range that has one, and the keys those ranges share their groups with.
    private readonly IPEndPoint[] _groups;
    private readonly byte[][] _keys;

    public ExtendedSubnetGroup(XtrSite site, HostTable hosts, AwayState away)
    {
        _site = site;
        _hosts = hosts;
        _away = away;
        _groups = site.Ranges.Select(r => r.Options.MapNotifyGroupEndpoint).OfType<IPEndPoint>().Distinct().ToArray();
        _keys = site.Ranges.Where(r => r.Options.MapNotifyGroupEndpoint is not null).Select(r => r.Options.MapNotifyGroupKey!).Distinct(StringComparer.Ordinal)
            .Select(k => Encoding.UTF8.GetBytes(k)).ToArray();
    }

    /// <summary>The groups of the extended-subnet ranges (the transport joins them).</summary>
    public IReadOnlyList<IPEndPoint> Groups => _groups;

    /// <summary>
    /// Announces the hosts whose range has a group there, with this site's RLOCs, signed with the range's group key. Not
    /// acknowledged, as multicast never is.
    /// </summary>
    public void Announce(List<DynamicHost> hosts, XtrCall call)
    {
        if (_groups.Length == 0 || hosts.Count == 0) return;
        foreach (var byGroup in hosts.Select(h => (Host: h, Range: GroupRangeOf(h.Eid.Address))).Where(x => x.Range is not null).GroupBy(x => x.Range!))
        {
            var group = byGroup.Key.MapNotifyGroupEndpoint!;
            var key = Encoding.UTF8.GetBytes(byGroup.Key.MapNotifyGroupKey!);
            foreach (var batch in RecordBatches.Split(byGroup.Select(x => _site.LocalRecord(x.Host.Eid)), r => r))
            {
                var notify = new MapNotify
                {
                    Nonce = _site.Nonces.Next(), KeyId = GroupKeyId, Algorithm = AuthAlgorithm.HmacSha256_128, Records = [.. batch], XtrId = _site.XtrId, SiteId = _site.Options.SiteId,
                };
                call.Sink.Send(notify.ToSignedArray(key), group);
                _site.Counters.GroupNotifySent();
            }
        }
    }

    private DynamicEidOptions? GroupRangeOf(LispAddress eid)
    {
        foreach (var (o, p) in _site.Ranges)
        {
            if (p.Contains(eid) && o.MapNotifyGroupEndpoint is not null) return o;
        }

        return null;
    }

    /// <summary>
    /// A Map-Notify from a peer xTR on the group: authenticated with a group key; our own (looped back by the kernel)
    /// ignored. A host with our RLOCs is at this site (a sibling xTR found it): no longer away here — the Map-Server would
    /// not say so, having told only the registrant it replaced. A host this xTR holds, with another site's RLOCs: away, as
    /// the Map-Server will say a moment later — unless this xTR is registering it right now: a group message carries no
    /// order, and one sent before our host appeared here can still sit in our socket; the Map-Server orders the two claims
    /// and tells the loser.
    /// </summary>
    /// <returns>False when this xTR has no group, so the datagram is no group message.</returns>
    public bool TryHandle(ReadOnlySpan<byte> datagram, AuthenticatedMessageView view, IPEndPoint source, XtrCall call)
    {
        if (_groups.Length == 0) return false;
        if (view.XtrId == _site.XtrId) return true;
        var signed = false;
        if (view.KeyId == GroupKeyId && view.Algorithm == AuthAlgorithm.HmacSha256_128)
        {
            foreach (var key in _keys)
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
            _site.Counters.NotifyRejected();
            XtrLog.NotifyRejected(_site.Logger, source, signed ? "malformed map-notify group message" : "not from a configured Map-Server, nor signed with a map-notify group key");
            return true;
        }

        _site.Counters.GroupNotifyReceived();
        foreach (var record in notify.Records)
        {
            if (!record.Eid.IsHost || record.Locators.Count == 0 || GroupRangeOf(record.Eid.Address) is null) continue;
            if (_site.IsOurs(record.Locators)) _away.Clear(record.Eid, call, anyState: false);
            else if (_hosts.Get(record.Eid.Address)?.State != HostState.Registering) _away.GoAway(record.Eid, record.Locators, source, call, onlyKnown: true);
            else _site.Counters.GroupNotifyDeferred();
        }

        return true;
    }
}
