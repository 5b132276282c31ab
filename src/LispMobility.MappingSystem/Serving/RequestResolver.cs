using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Resolution;
using LispMobility.Platform;

namespace LispMobility.MappingSystem.Serving;

/// <summary>
/// The Map-Resolver (RFC 9301 §8.3): Map-Requests, direct or in an ECM, rate-limited per requester (registrants at their
/// own rate), answered by proxy reply, forwarded to a registered ETR, or answered negatively; each requester is noted for SMRs.
/// </summary>
internal sealed class RequestResolver(ServerContext context, RegistrationHandler registrations, Notifier notifier)
{
    private readonly RequesterRateLimiter _rateLimiter = new(context.Options.RequestsPerSecondPerRequester, context.Options.RequestBurstPerRequester, context.Options.MaxTrackedRequesters, context.Time);
    private readonly RequesterRateLimiter _registeredRateLimiter = new(context.Options.RegisteredRequestsPerSecond, context.Options.RegisteredRequestBurst, context.Options.MaxTrackedRequesters, context.Time);

    private MapServerCounters Counters => context.Counters;

    /// <summary>An Encapsulated Control Message carrying a Map-Request.</summary>
    public void HandleEcm(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
    {
        if (!EcmView.TryRead(datagram, out var ecm, out var error))
        {
            Counters.Reject(RejectReason.Malformed);
            MapServerLog.Malformed(context.Logger, "ECM", source, error.ToString());
            return;
        }

        if (!MapRequestView.TryRead(ecm.InnerMessage, out var request, out error))
        {
            Counters.Reject(LispMessage.TryPeekType(ecm.InnerMessage, out var t) && t != LispMessageType.MapRequest ? RejectReason.UnexpectedType : RejectReason.Malformed);
            MapServerLog.Malformed(context.Logger, "ECM inner Map-Request", source, error.ToString());
            return;
        }

        Resolve(request, source, ecm.InnerSourcePort, datagram, sink);
    }

    /// <summary>A Map-Request sent directly (not encapsulated).</summary>
    public void HandleDirectRequest(ReadOnlySpan<byte> datagram, IPEndPoint source, IDatagramSink sink)
    {
        if (!MapRequestView.TryRead(datagram, out var request, out var error))
        {
            Counters.Reject(RejectReason.Malformed);
            MapServerLog.Malformed(context.Logger, "Map-Request", source, error.ToString());
            return;
        }

        Resolve(request, source, (ushort)source.Port, ReadOnlySpan<byte>.Empty, sink);
    }

    // Map-Resolver (RFC 9301 §8.3): proxy-reply, forward to an ETR, or answer negatively.
    private void Resolve(MapRequestView request, IPEndPoint source, ushort replyPort, ReadOnlySpan<byte> ecm, IDatagramSink sink)
    {
        if (!(registrations.IsRegistrant(source.Address) ? _registeredRateLimiter : _rateLimiter).TryTake(source.Address))
        {
            Counters.Reject(RejectReason.RateLimited);
            return;
        }

        if (request.Smr || request.RecordCount == 0)
        {
            context.Reject(RejectReason.UnexpectedType, source, request.Smr ? "SMR sent to the Map-Resolver" : "Map-Request without an EID record");
            return;
        }

        var eid = request.FirstRecord;
        // Only IP EIDs (with or without an instance-id) are registered here. Another AFI or LCAF (ELP, RLE, Geo, AS...) is
        // neither echoed in a negative reply nor forwarded: its bytes were kept unparsed, and a reply carrying them decodes
        // as malformed at the requester. The same for a source EID that is neither absent nor IP.
        if (!eid.Address.IsIp || request.SourceEid.Kind is not (AddressKind.None or AddressKind.IPv4 or AddressKind.IPv6))
        {
            context.Reject(RejectReason.UnsupportedEid, source, eid.Address.IsIp ? $"source EID {request.SourceEid} is not an IP address" : $"EID {eid} is not an IP prefix");
            return;
        }

        Counters.MapRequest();
        var replyTo = new IPEndPoint(request.ReplyAddress(source.Address), replyPort);
        var now = context.Time.GetUtcNow();
        MappingRecord reply;
        IPEndPoint? forwardTo = null;
        lock (context.Gate)
        {
            if (eid.Address.IsIp && !request.Probe) notifier.Requested(eid.Address, replyTo, now);
            var entry = registrations.Table.Lookup(eid.Address, eid.MaskLength);
            if (entry is not null && entry.Etrs.Count > 0)
            {
                if (!entry.ProxyReply && entry.NextEtr() is { } etr && etr.Locators.FirstOrDefault(l => l.IsUsable && l.Address.IsIp) is { Address.IsIp: true } target)
                {
                    forwardTo = new IPEndPoint(target.Address.WithInstanceId(null).ToIPAddress(), Lisp.Messages.LispPorts.Control);
                    reply = null!;
                }
                else
                {
                    reply = new MappingRecord { Eid = entry.Prefix, Ttl = entry.Ttl, Locators = ProxyLocators(entry.MergedLocators()) };
                }
            }
            else if (context.Sites.IsEid(eid.Address))
            {
                reply = new MappingRecord { Eid = eid, Ttl = context.Options.UnregisteredNegativeTtlMinutes, Action = MapReplyAction.SendMapRequest, Authoritative = true };
            }
            else
            {
                var cover = context.Sites.NonEidCover(eid.Address);
                reply = new MappingRecord { Eid = cover, Ttl = context.Options.NonEidNegativeTtlMinutes, Action = MapReplyAction.NativelyForward, Authoritative = true };
            }
        }

        if (forwardTo is not null)
        {
            var forwarded = ecm.IsEmpty
                ? EncapsulatedControlMessage.Wrap(request.ToMessage(), LispAddress.FromIPAddress(source.Address), LispAddress.FromIPAddress(source.Address), replyPort).ToArray()
                : ecm.ToArray();
            forwarded[0] |= 0x02; // E bit: forwarded by the Map-Server to the ETR (RFC 9301 §5.8).
            sink.Send(forwarded, forwardTo);
            Counters.Forward();
            return;
        }

        if (reply.Locators.Count == 0) Counters.NegativeReply(); else Counters.ProxyReply();
        sink.Send(new MapReply { Nonce = request.Nonce, Records = [reply] }.ToArray(), replyTo);
    }

    // A proxy reply speaks for the ETRs: none of their locators is local to the Map-Server (RFC 9301 §5.4, the L bit).
    private static Locator[] ProxyLocators(Locator[] registered)
    {
        var anyLocal = false;
        foreach (var l in registered) anyLocal |= l.Local;
        if (!anyLocal) return registered;
        var copy = new Locator[registered.Length];
        for (var i = 0; i < copy.Length; i++) copy[i] = registered[i] with { Local = false };
        return copy;
    }
}
