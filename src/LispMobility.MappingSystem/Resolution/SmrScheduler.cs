using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Platform;

namespace LispMobility.MappingSystem.Resolution;

/// <summary>
/// Remembers which ITRs asked for which EIDs, and when a mapping changes solicits them (SMR) so they
/// refresh now rather than at TTL expiry. At most one SMR per ITR and EID per interval; a change inside
/// that interval is sent when it ends rather than lost. Not thread-safe: used under the Map-Server's lock.
/// </summary>
internal sealed class SmrScheduler(MapServerOptions options, TimeProvider time, NonceSource nonces)
{
    private readonly Dictionary<LispAddress, Dictionary<IPEndPoint, DateTimeOffset>> _requesters = [];
    private readonly Dictionary<(IPEndPoint, LispAddress), DateTimeOffset> _lastSent = [];
    private readonly Dictionary<(IPEndPoint, LispAddress), DateTimeOffset> _due = [];
    // _due in time order, so that sending does not walk every scheduled SMR (a DR failover schedules thousands, most of them
    // held back by the interval). An item whose time no longer matches _due was rescheduled and is skipped.
    private readonly PriorityQueue<(IPEndPoint, LispAddress), DateTimeOffset> _dueOrder = new();
    // SMRs sent and not yet followed by a Map-Request from that ITR for that EID: how many times each was sent.
    private readonly Dictionary<(IPEndPoint, LispAddress), int> _unanswered = [];
    // One item per remembered (EID, ITR), at the time it was queued: pruning takes the oldest from here instead of walking
    // every requester. A full table of recent requesters walked all of them for each new one and freed nothing, which made
    // the Map-Requests of a 100,000-EID failback quadratic. An item whose requester asked again since is queued again.
    private readonly PriorityQueue<(LispAddress Eid, IPEndPoint Itr), DateTimeOffset> _byAge = new();
    private DateTimeOffset _nextLastSentSweep;
    private int _tracked;

    /// <summary>Requester entries currently remembered.</summary>
    public int Tracked => _tracked;

    /// <summary>Entries pruning and sweeping have looked at since start: what a test counts to see them stay proportional to what they free.</summary>
    internal long Visited { get; private set; }

    /// <summary>Notes that <paramref name="itr"/> asked for <paramref name="eid"/>.</summary>
    public void Requested(LispAddress eid, IPEndPoint itr, DateTimeOffset now)
    {
        if (!_requesters.TryGetValue(eid, out var set))
        {
            if (_tracked >= options.MaxTrackedRequesters && !Prune(now)) return;
            _requesters[eid] = set = [];
        }

        if (!set.ContainsKey(itr))
        {
            if (_tracked >= options.MaxTrackedRequesters && !Prune(now)) return;
            _tracked++;
            _byAge.Enqueue((eid, itr), now);
        }

        set[itr] = now;

        // The ITR asked again: that answers an SMR sent to it for this EID.
        var key = (itr, eid);
        if (_unanswered.Remove(key)) _due.Remove(key);
    }

    /// <summary>Schedules SMRs to every recent requester of an address inside <paramref name="prefix"/>.</summary>
    public void MappingChanged(EidPrefix prefix, DateTimeOffset now)
    {
        if (_requesters.Count == 0) return; // no one to tell, as for every registration of a Map-Server nobody queries
        if (prefix.IsHost)
        {
            if (_requesters.TryGetValue(prefix.Address, out var set)) Schedule(prefix.Address, set, now);
            return;
        }

        foreach (var (eid, set) in _requesters)
        {
            if (prefix.Contains(eid)) Schedule(eid, set, now);
        }
    }

    private void Schedule(LispAddress eid, Dictionary<IPEndPoint, DateTimeOffset> set, DateTimeOffset now)
    {
        foreach (var (itr, asked) in set)
        {
            if (now - asked > options.RequesterMemory) continue;
            var key = (itr, eid);
            var at = _lastSent.TryGetValue(key, out var last) && now - last < options.SmrInterval ? last + options.SmrInterval : now;
            if (_due.TryGetValue(key, out var scheduled) && scheduled == at) continue;
            _unanswered.Remove(key); // a new change: its SMR gets its own retries
            _due[key] = at;
            _dueOrder.Enqueue(key, at);
        }
    }

    /// <summary>Sends the SMRs that are due; returns when the next one is.</summary>
    public DateTimeOffset? SendDue(DateTimeOffset now, IDatagramSink sink, List<MapServerEvent> events, MapServerCounters counters)
    {
        if (_due.Count == 0) return null;
        while (_dueOrder.TryPeek(out var key, out var at) && at <= now)
        {
            _dueOrder.Dequeue();
            if (!_due.TryGetValue(key, out var current) || current != at) continue;
            _due.Remove(key);
            var (itr, eid) = key;
            var smr = new MapRequest
            {
                Smr = true, Nonce = nonces.Next(), SourceEid = eid, ItrRlocs = [LispAddress.FromIPAddress(itr.Address)], Records = [EidPrefix.Host(eid)],
            };
            sink.Send(smr.ToArray(), itr);
            counters.Smr();
            events.Add(new SmrSent(now, EidPrefix.Host(eid), itr));
            _lastSent[key] = now;

            // Sent again an interval later unless the ITR asks for the EID meanwhile (Requested).
            var sent = _unanswered.GetValueOrDefault(key) + 1;
            if (sent <= options.SmrRetries)
            {
                _unanswered[key] = sent;
                var again = now + options.SmrInterval;
                _due[key] = again;
                _dueOrder.Enqueue(key, again);
            }
            else
            {
                _unanswered.Remove(key);
            }
        }

        DateTimeOffset? next = null;
        while (_dueOrder.TryPeek(out var key, out var at))
        {
            if (_due.TryGetValue(key, out var current) && current == at)
            {
                next = at;
                break;
            }

            _dueOrder.Dequeue();
        }

        // At most once an interval: what a sweep leaves is younger than the interval, and sweeping on every call while more
        // than the bound were sent within one interval walked them all for each SMR.
        if (_lastSent.Count > options.MaxTrackedRequesters && now >= _nextLastSentSweep)
        {
            _nextLastSentSweep = now + options.SmrInterval;
            Visited += _lastSent.Count;
            foreach (var (k, t) in _lastSent.ToList())
            {
                if (now - t >= options.SmrInterval) _lastSent.Remove(k);
            }
        }

        return next;
    }

    // Forgets requesters older than the memory window, oldest first; true when room was made.
    private bool Prune(DateTimeOffset now)
    {
        while (_byAge.TryPeek(out var pair, out var queued) && now - queued > options.RequesterMemory)
        {
            _byAge.Dequeue();
            Visited++;
            if (!_requesters.TryGetValue(pair.Eid, out var set) || !set.TryGetValue(pair.Itr, out var asked)) continue;
            if (now - asked <= options.RequesterMemory)
            {
                _byAge.Enqueue(pair, asked);
                continue;
            }

            set.Remove(pair.Itr);
            _tracked--;
            if (set.Count == 0) _requesters.Remove(pair.Eid);
        }

        return _tracked < options.MaxTrackedRequesters;
    }

    /// <summary>The clock, for callers outside a timer.</summary>
    public DateTimeOffset Now => time.GetUtcNow();
}
