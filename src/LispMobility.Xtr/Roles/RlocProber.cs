using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// RLOC reachability (RFC 9301 §7.1, RFC 9300 §10): every probe interval, each remote locator of the map-cache gets a
/// Map-Request with P straight to its control port; one that leaves the configured number of probes in a row unanswered
/// goes down, and so does one the remote site's locator-status bits call down. A down locator is marked unreachable in
/// every map-cache entry naming it (the ITR then chooses the next), and up again on its next answer. A one-shot probe
/// (<see cref="ProbeOnce"/>) asks a locator outside the rounds and changes no verdict. Called under the engine's lock.
/// </summary>
internal sealed class RlocProber
{
    private readonly XtrSite _site;
    private readonly Resolver _resolver;
    private readonly Dictionary<LispAddress, Peer> _peers = [];
    private readonly Dictionary<ulong, Peer> _byNonce = [];
    private readonly Dictionary<ulong, TaskCompletionSource> _oneShots = [];
    private DateTimeOffset _nextRound;

    /// <summary>One remote locator: its outstanding probe, the probes it missed, and the two verdicts that can hold it down.</summary>
    private sealed class Peer(LispAddress rloc, DateTimeOffset since)
    {
        public LispAddress Rloc { get; } = rloc;
        public EidPrefix Eid { get; set; }
        public ulong? Nonce { get; set; }
        public DateTimeOffset SentAt { get; set; }
        public int Missed { get; set; }
        public long Sent { get; set; }
        public long Answered { get; set; }
        public long MissedTotal { get; set; }
        public TimeSpan? RoundTrip { get; set; }
        public string? Reason { get; set; }
        public DateTimeOffset Since { get; set; } = since;
        public bool ProbeDown { get; set; }
        public bool LsbDown { get; set; }
        public bool Down => ProbeDown || LsbDown;
    }

    public RlocProber(XtrSite site, Resolver resolver)
    {
        _site = site;
        _resolver = resolver;
        resolver.IsRlocDown = a => _peers.TryGetValue(a, out var p) && p.Down;
    }

    /// <summary>Whether a remote locator is down now.</summary>
    public bool IsDown(LispAddress rloc) => _peers.TryGetValue(rloc, out var p) && p.Down;

    /// <summary>The remote locators known here: up or down, their probe counts and last round trip.</summary>
    public IReadOnlyList<RemoteRloc> Status() =>
        [.. _peers.Values.Select(p => new RemoteRloc(p.Rloc, !p.Down, p.Down ? p.Reason : null, p.Since, p.Missed, p.Sent, p.Answered, p.MissedTotal, p.RoundTrip))];

    /// <summary>A probe round when one is due: counts the unanswered, sends the next probes; returns when it next has work.</summary>
    public DateTimeOffset? OnTimer(XtrCall call)
    {
        if (!_site.Options.ProbesRlocs) return null;
        if (call.Now < _nextRound) return _nextRound;
        _nextRound = call.Now + _site.Options.RlocProbeInterval;

        var inUse = _resolver.CachedRemoteRlocs(call.Now);
        foreach (var gone in _peers.Keys.Where(a => !inUse.ContainsKey(a)).ToList())
        {
            if (_peers.Remove(gone, out var p) && p.Nonce is { } n) _byNonce.Remove(n);
        }

        foreach (var (rloc, eid) in inUse)
        {
            if (!_peers.TryGetValue(rloc, out var peer)) _peers[rloc] = peer = new Peer(rloc, call.Now);
            peer.Eid = eid;
            if (peer.Nonce is { } unanswered)
            {
                _byNonce.Remove(unanswered);
                peer.Missed++;
                peer.MissedTotal++;
                if (peer.Missed >= _site.Options.RlocProbeMissLimit && !peer.ProbeDown)
                {
                    Change(peer, () => peer.ProbeDown = true, $"{peer.Missed} probes unanswered", call);
                }
            }

            Send(peer, call);
        }

        return _nextRound;
    }

    private void Send(Peer peer, XtrCall call)
    {
        var nonce = _site.Nonces.Next();
        peer.Nonce = nonce;
        peer.SentAt = call.Now;
        peer.Sent++;
        _byNonce[nonce] = peer;
        Send(peer.Rloc, peer.Eid, nonce, call);
    }

    private void Send(LispAddress rloc, EidPrefix eid, ulong nonce, XtrCall call)
    {
        // The EID of an entry naming the locator: the ETR answers for it, and a probe needs one record (RFC 9301 §5.3).
        var request = new MapRequest
        {
            Probe = true, Nonce = nonce, SourceEid = LispAddress.None, ItrRlocs = _site.Rlocs.Select(r => r.Address).ToArray(),
            Records = [new EidPrefix(eid.Address.WithInstanceId(null), eid.MaskLength)],
        };
        call.Sink.Send(request.ToArray(), new IPEndPoint(rloc.ToIPAddress(), _site.ControlPort));
        _site.Counters.ProbeSent();
    }

    /// <summary>
    /// One probe to <paramref name="rloc"/> now, for <paramref name="eid"/> (any EID of its site: an ETR answers a probe
    /// whatever it holds): the task completes on the answer. The caller waits as long as it likes, then <see cref="Forget"/>s the nonce.
    /// </summary>
    public (ulong Nonce, Task Answered) ProbeOnce(LispAddress rloc, EidPrefix eid, XtrCall call)
    {
        var nonce = _site.Nonces.Next();
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _oneShots[nonce] = answered;
        Send(rloc, eid, nonce, call);
        return (nonce, answered.Task);
    }

    /// <summary>Drops a one-shot probe's nonce: a late answer to it is then unmatched.</summary>
    public void Forget(ulong nonce) => _oneShots.Remove(nonce);

    /// <summary>A Map-Reply with P: true when it answers one of our probes (the locator is up).</summary>
    public bool TakeReply(MapReply reply, XtrCall call)
    {
        if (_oneShots.Remove(reply.Nonce, out var waiter))
        {
            _site.Counters.ProbeReplyReceived();
            call.Completions.Add(waiter.SetResult);
            return true;
        }

        if (!_byNonce.Remove(reply.Nonce, out var peer)) return false;
        _site.Counters.ProbeReplyReceived();
        peer.Nonce = null;
        peer.Missed = 0;
        peer.Answered++;
        peer.RoundTrip = call.Now - peer.SentAt;
        if (peer.ProbeDown) Change(peer, () => peer.ProbeDown = false, "answers probes again", call);
        return true;
    }

    /// <summary>
    /// The locator-status bits of a data packet from <paramref name="sourceEid"/>'s site: bit i is the i-th locator of that
    /// site's mapping (RFC 9300 §5.3), as our map-cache holds it.
    /// </summary>
    public void TakeLocatorStatusBits(LispAddress sourceEid, uint bits, int width, XtrCall call)
    {
        if (_resolver.Peek(sourceEid, call.Now) is not { IsNegative: false } entry) return;
        var locators = entry.LocatorArray;
        for (var i = 0; i < locators.Length && i < width; i++)
        {
            var rloc = locators[i].Address;
            if (!rloc.IsIp || _site.IsOwnRloc(rloc)) continue;
            var down = (bits & (1u << i)) == 0;
            if (!_peers.TryGetValue(rloc, out var peer))
            {
                if (!down) continue;
                _peers[rloc] = peer = new Peer(rloc, call.Now) { Eid = entry.Eid };
            }

            if (peer.LsbDown != down) Change(peer, () => peer.LsbDown = down, down ? "its site's locator-status bits say down" : "its site's locator-status bits say up", call);
        }
    }

    // Applies one verdict; the map-cache, the event, the counter and the log follow only when the locator's state changes.
    private void Change(Peer peer, Action apply, string reason, XtrCall call)
    {
        var wasDown = peer.Down;
        apply();
        if (peer.Down == wasDown) return;
        peer.Reason = reason;
        peer.Since = call.Now;
        _resolver.SetRlocReachable(peer.Rloc, !peer.Down);
        call.Events.Add(new RlocReachabilityChanged(call.Now, peer.Eid, peer.Rloc, !peer.Down, reason));
        if (peer.Down)
        {
            _site.Counters.RlocDown();
            XtrLog.RlocDown(_site.Logger, peer.Rloc.ToString(), reason);
        }
        else
        {
            _site.Counters.RlocUp();
            XtrLog.RlocUp(_site.Logger, peer.Rloc.ToString(), reason);
        }
    }
}
