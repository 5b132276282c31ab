using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// Solicit-Map-Requests this site sends: to an ITR that asked for a host now away, and, after a host moved in, to the remote
/// ITRs this site talks to — at most one per ITR and EID per SMR interval. Called under the engine's lock.
/// </summary>
internal sealed class Solicitation(XtrSite site, Resolver resolver)
{
    private readonly Dictionary<(IPEndPoint, LispAddress), DateTimeOffset> _sent = [];
    private DateTimeOffset _nextSweep;

    /// <summary>SMRs the ITRs of the remote RLOCs in use about <paramref name="eid"/>; returns how many were sent.</summary>
    public int SolicitRemoteItrs(LispAddress eid, XtrCall call)
    {
        var sent = 0;
        foreach (var target in resolver.RemoteRlocsInUse(call.Now))
        {
            if (SendSmr(new IPEndPoint(target.ToIPAddress(), site.ControlPort), eid, call)) sent++;
        }

        return sent;
    }

    /// <summary>Sends an SMR for <paramref name="eid"/> to <paramref name="itr"/> unless one went there within the SMR interval.</summary>
    public bool SendSmr(IPEndPoint itr, LispAddress eid, XtrCall call)
    {
        var key = (itr, eid);
        if (_sent.TryGetValue(key, out var last) && call.Now - last < site.Options.SmrInterval)
        {
            site.Counters.SmrSuppressed();
            return false;
        }

        // At most once an interval: what a sweep leaves is younger than the interval, and sweeping on every SMR while more than
        // the bound went out within one interval (a bulk move soliciting a busy ITR) walked them all for each.
        if (_sent.Count > 10_000 && call.Now >= _nextSweep)
        {
            _nextSweep = call.Now + site.Options.SmrInterval;
            foreach (var (k, t) in _sent.ToList())
            {
                if (call.Now - t >= site.Options.SmrInterval) _sent.Remove(k);
            }
        }

        _sent[key] = call.Now;
        var smr = new MapRequest
        {
            Smr = true, Nonce = site.Nonces.Next(), SourceEid = eid, ItrRlocs = [site.RlocFor(eid)], Records = [EidPrefix.Host(eid)],
        };
        call.Sink.Send(smr.ToArray(), itr);
        site.Counters.SmrSent();
        call.Events.Add(new SmrSentToItr(call.Now, EidPrefix.Host(eid), itr));
        return true;
    }
}
