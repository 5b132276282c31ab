using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Transport;

namespace LispMobility.Xtr;

public sealed partial class XtrEngine
{
    private readonly Dictionary<(IPEndPoint, LispAddress), DateTimeOffset> _smrSent = [];

    private void HandleEcm(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink, List<XtrEvent> events)
    {
        if (!EcmView.TryRead(datagram, out var ecm, out var error))
        {
            Counters.Malformed();
            LogMalformed("ECM", source, error.ToString());
            return;
        }

        HandleMapRequest(ecm.InnerMessage, source, ecm.InnerSourcePort, true, sink, events);
    }

    // ETR: answer for our EIDs, SMR for away ones. ITR: an SMR makes us refresh through the mapping system.
    private void HandleMapRequest(ReadOnlySpan<byte> message, IPEndPoint source, ushort replyPort, bool encapsulated, IDatagramSink sink, List<XtrEvent> events)
    {
        if (!MapRequestView.TryRead(message, out var request, out var error))
        {
            Counters.Malformed();
            LogMalformed(encapsulated ? "ECM Map-Request" : "Map-Request", source, error.ToString());
            return;
        }

        var now = _time.GetUtcNow();
        if (request.Smr)
        {
            var eid = request.SourceEid.Kind != AddressKind.None ? EidPrefix.Host(request.SourceEid) : request.FirstRecord;
            Counters.SmrReceived();
            if (!eid.Address.IsIp)
            {
                // An SMR for a non-IP EID (another LCAF) cannot be refreshed through an ECM; before this check it left a
                // resolution that threw on every tick and took that tick's periodic Map-Registers with it.
                Counters.UnsupportedEid();
                LogUnsupportedEid("SMR", source, eid.ToString());
                return;
            }

            events.Add(new SmrReceived(now, eid, source));
            lock (_gate) { StartResolution(eid, smrInvoked: true, now, sink); }
            return;
        }

        if (request.RecordCount == 0) { Counters.Malformed(); return; }
        var asked = request.FirstRecord;
        if (!asked.Address.IsIp)
        {
            Counters.UnsupportedEid();
            LogUnsupportedEid(encapsulated ? "ECM Map-Request" : "Map-Request", source, asked.ToString());
            return;
        }

        var replyTo = new IPEndPoint(request.ReplyAddress(source.Address), replyPort);
        MappingRecord? record = null;
        var away = false;
        lock (_gate)
        {
            if (_hosts.TryGetValue(asked.Address, out var host))
            {
                if (host.State == HostState.Away) away = true;
                else if (host.State != HostState.Withdrawing) record = LocalRecord(host.Eid);
            }

            if (record is null && !away)
            {
                foreach (var p in _static)
                {
                    if (p.Contains(asked) && (record is null || p.MaskLength > record.Eid.MaskLength)) record = LocalRecord(p);
                }
            }

            if (away) SendSmr(replyTo, asked.Address, now, sink, events);
        }

        if (record is null)
        {
            if (!away) Counters.RequestNotOurs();
            return;
        }

        sink.Send(new MapReply { Nonce = request.Nonce, Records = [record] }.ToArray(), replyTo);
        Counters.MapReplySent();
    }

    private MappingRecord LocalRecord(EidPrefix eid) =>
        new() { Eid = eid, Ttl = _options.RecordTtlMinutes, Authoritative = true, Locators = _rlocs };

    // Under _gate. At most one SMR per destination and EID per SmrInterval.
    private bool SendSmr(IPEndPoint itr, LispAddress eid, DateTimeOffset now, IDatagramSink sink, List<XtrEvent> events)
    {
        var key = (itr, eid);
        if (_smrSent.TryGetValue(key, out var last) && now - last < _options.SmrInterval)
        {
            Counters.SmrSuppressed();
            return false;
        }

        if (_smrSent.Count > 10_000)
        {
            foreach (var (k, t) in _smrSent.ToList())
            {
                if (now - t >= _options.SmrInterval) _smrSent.Remove(k);
            }
        }

        _smrSent[key] = now;
        var smr = new MapRequest
        {
            Smr = true, Nonce = _nonces.Next(), SourceEid = eid, ItrRlocs = [RlocFor(eid)], Records = [EidPrefix.Host(eid)],
        };
        sink.Send(smr.ToArray(), itr);
        Counters.SmrSent();
        events.Add(new SmrSentToItr(now, EidPrefix.Host(eid), itr));
        return true;
    }

    /// <summary>
    /// After a host moved in: solicits the ITRs of the remote sites this site talks to (the RLOCs of map-cache
    /// entries used recently), so they refresh their entry for the host at once. Returns the SMRs sent.
    /// </summary>
    public int SolicitRemoteItrs(IPAddress host, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(host);
        var eid = LispAddress.FromIPAddress(host);
        var now = _time.GetUtcNow();
        var events = new List<XtrEvent>();
        var sent = 0;
        lock (_gate)
        {
            var port = ControlPort;
            foreach (var (target, used) in _remoteRlocs.ToList())
            {
                if (now - used > _options.InUseWindow)
                {
                    _remoteRlocs.Remove(target);
                    continue;
                }

                if (SendSmr(new IPEndPoint(target.ToIPAddress(), port), eid, now, sink, events)) sent++;
            }
        }

        Finish(events);
        return sent;
    }

    /// <summary>
    /// Data-plane SMR (RFC 9301 §6.1): the ETR received data for <paramref name="eid"/>, which is away from here, from the
    /// ITR at <paramref name="itr"/>; that ITR is solicited to refresh (at most once per SMR interval per ITR and EID).
    /// </summary>
    public bool SolicitItr(IPAddress itr, IPAddress eid, IDatagramSink sink)
    {
        ArgumentNullException.ThrowIfNull(itr);
        ArgumentNullException.ThrowIfNull(eid);
        var events = new List<XtrEvent>(1);
        bool sent;
        lock (_gate) { sent = SendSmr(new IPEndPoint(itr, ControlPort), LispAddress.FromIPAddress(eid), _time.GetUtcNow(), sink, events); }
        Finish(events);
        return sent;
    }

    /// <summary>
    /// The UDP port this xTR's control plane listens on: where Map-Replies to our Map-Requests come back, and
    /// the port assumed for remote ITRs we solicit. Set by the transport once bound.
    /// </summary>
    public int ControlPort { get; set; } = LispPorts.Control;

    private LispAddress RlocFor(LispAddress eid)
    {
        foreach (var r in _rlocs)
        {
            if (r.Address.Kind == eid.Kind) return r.Address;
        }

        return _rlocs[0].Address;
    }
}
