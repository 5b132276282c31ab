using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// Map-Requests to this xTR, plain or in an ECM: the ETR answers for its EIDs (present hosts and static prefixes) and SMRs
/// the asker about a host now away; an SMR to the ITR makes it refresh through the mapping system. Called under the engine's lock.
/// </summary>
internal sealed class EtrResponder(XtrSite site, HostTable hosts, Solicitation solicitation, Resolver resolver)
{
    public void HandleEcm(ReadOnlySpan<byte> datagram, IPEndPoint source, XtrCall call)
    {
        if (!EcmView.TryRead(datagram, out var ecm, out var error))
        {
            site.Counters.Malformed();
            XtrLog.Malformed(site.Logger, "ECM", source, error.ToString());
            return;
        }

        HandleMapRequest(ecm.InnerMessage, source, ecm.InnerSourcePort, true, call);
    }

    public void HandleMapRequest(ReadOnlySpan<byte> message, IPEndPoint source, ushort replyPort, bool encapsulated, XtrCall call)
    {
        if (!MapRequestView.TryRead(message, out var request, out var error))
        {
            site.Counters.Malformed();
            XtrLog.Malformed(site.Logger, encapsulated ? "ECM Map-Request" : "Map-Request", source, error.ToString());
            return;
        }

        if (request.Smr)
        {
            var eid = request.SourceEid.Kind != AddressKind.None ? EidPrefix.Host(request.SourceEid) : request.FirstRecord;
            site.Counters.SmrReceived();
            if (!eid.Address.IsIp)
            {
                // An SMR for a non-IP EID (another LCAF) cannot be refreshed through an ECM; before this check it left a
                // resolution that threw on every tick and took that tick's periodic Map-Registers with it.
                site.Counters.UnsupportedEid();
                XtrLog.UnsupportedEid(site.Logger, "SMR", source, eid.ToString());
                return;
            }

            call.Events.Add(new SmrReceived(call.Now, eid, source));
            resolver.Refresh(eid, call);
            return;
        }

        if (request.RecordCount == 0) { site.Counters.Malformed(); return; }
        var asked = request.FirstRecord;
        if (!asked.Address.IsIp)
        {
            site.Counters.UnsupportedEid();
            XtrLog.UnsupportedEid(site.Logger, encapsulated ? "ECM Map-Request" : "Map-Request", source, asked.ToString());
            return;
        }

        var replyTo = new IPEndPoint(request.ReplyAddress(source.Address), replyPort);
        var host = hosts.Get(asked.Address);
        if (request.Probe)
        {
            AnswerProbe(request.Nonce, host, asked, replyTo, call);
            return;
        }

        if (host?.State == HostState.Away)
        {
            solicitation.SendSmr(replyTo, asked.Address, call);
            return;
        }

        var record = host is not null && host.State != HostState.Withdrawing ? site.LocalRecord(host.Eid) : StaticRecord(asked);
        if (record is null)
        {
            site.Counters.RequestNotOurs();
            return;
        }

        call.Sink.Send(new MapReply { Nonce = request.Nonce, Records = [record] }.ToArray(), replyTo);
        site.Counters.MapReplySent();
    }

    // An RLOC-probe asks whether this locator is up: it is answered whatever the EID's state here, with our record for the
    // EID when we hold one (RFC 9301 §7.1), else with none; an away EID's stale ITR learns of the move from its data-plane SMR.
    private void AnswerProbe(ulong nonce, DynamicHost? host, EidPrefix asked, IPEndPoint replyTo, XtrCall call)
    {
        var record = host is { State: not (HostState.Away or HostState.Withdrawing) } ? site.LocalRecord(host.Eid) : host is null ? StaticRecord(asked) : null;
        call.Sink.Send(new MapReply { ProbeReply = true, Nonce = nonce, Records = record is null ? [] : [record] }.ToArray(), replyTo);
        site.Counters.ProbeReplySent();
    }

    // The longest static prefix covering the asked EID.
    private MappingRecord? StaticRecord(EidPrefix asked)
    {
        EidPrefix? best = null;
        foreach (var p in site.StaticPrefixes)
        {
            if (p.Contains(asked) && (best is null || p.MaskLength > best.Value.MaskLength)) best = p;
        }

        return best is { } b ? site.LocalRecord(b) : null;
    }
}
