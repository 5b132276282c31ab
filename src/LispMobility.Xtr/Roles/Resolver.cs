using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr.Roles;

/// <summary>
/// The ITR's resolution: Map-Requests (in ECMs) to the Map-Resolvers, one in flight per prefix with its nonce, retry budget
/// and waiters; the map-cache the Map-Replies fill; and the remote RLOCs in use, which the SMRs after a move solicit.
/// Called under the engine's lock.
/// </summary>
internal sealed class Resolver(XtrSite site)
{
    private readonly IPEndPoint[] _resolvers = site.Options.MapResolvers.Select(IPEndPoint.Parse).ToArray();
    private readonly MapCache _cache = new(site.Options.MapCacheSize);
    private readonly Dictionary<EidPrefix, PendingResolution> _byPrefix = [];
    private readonly Dictionary<ulong, PendingResolution> _byNonce = [];
    // The remote RLOCs of map-cache entries and when an entry using them was last installed or used: kept as entries come
    // and go instead of walking the cache per move.
    private readonly Dictionary<LispAddress, DateTimeOffset> _remoteRlocs = [];
    private readonly List<MapCacheEntry> _dataUsed = [];
    private int _resolverIndex;
    private DateTimeOffset _nextCacheSweep;

    /// <summary>A Map-Request in flight for one prefix: its nonce, its retry budget and who waits for it.</summary>
    private sealed class PendingResolution
    {
        public required EidPrefix Eid { get; init; }
        public bool SmrInvoked { get; set; }
        public ulong Nonce { get; set; }
        public int Attempts { get; set; }
        public DateTimeOffset NextSend { get; set; }
        public List<TaskCompletionSource<MapCacheEntry>> Waiters { get; } = [];
    }

    public bool HasResolver => _resolvers.Length > 0;

    /// <summary>The first configured Map-Resolver (what an answer through the mapping system names as its source), if any.</summary>
    public IPEndPoint? FirstResolver => _resolvers.Length > 0 ? _resolvers[0] : null;

    /// <summary>Whether a remote locator is down (the prober's verdict), applied to the records installed from now on.</summary>
    public Func<LispAddress, bool> IsRlocDown { get; set; } = static _ => false;

    /// <summary>Marks a remote locator reachable or not in every entry naming it; returns the entries changed.</summary>
    public int SetRlocReachable(LispAddress rloc, bool reachable) => _cache.SetReachable(rloc, reachable);

    /// <summary>The remote locators of the live entries (priority 255 ones aside), each with the EID of one entry naming it.</summary>
    public Dictionary<LispAddress, EidPrefix> CachedRemoteRlocs(DateTimeOffset now)
    {
        var rlocs = new Dictionary<LispAddress, EidPrefix>();
        foreach (var e in _cache.Live)
        {
            if (e.Expires <= now) continue;
            foreach (var l in e.LocatorArray)
            {
                if (l.Priority != Locator.DoNotUse && l.Address.IsIp && !site.IsOwnRloc(l.Address)) rlocs.TryAdd(l.Address, e.Eid);
            }
        }

        return rlocs;
    }

    public IReadOnlyList<MapCacheEntry> Entries => _cache.Entries;

    /// <summary>The map-cache as last published (read without the engine's lock).</summary>
    public MapCacheSnapshot Snapshot => _cache.Snapshot;

    /// <summary>The live entry covering <paramref name="eid"/> (marks it and its RLOCs used), or null.</summary>
    public MapCacheEntry? Lookup(LispAddress eid, DateTimeOffset now)
    {
        var entry = _cache.Lookup(eid, now);
        if (entry is not null) NoteRemoteRlocs(entry.Locators, now);
        return entry;
    }

    /// <summary>The live entry covering <paramref name="eid"/>, without marking it used, or null.</summary>
    public MapCacheEntry? Peek(LispAddress eid, DateTimeOffset now) => _cache.Lookup(eid, now, touch: false);

    /// <summary>
    /// Removes the entries <paramref name="filter"/> selects (those covering or inside it, as the map-cache view selects them),
    /// or every entry; returns what it removed. The next packet or lookup resolves afresh.
    /// </summary>
    public IReadOnlyList<EidPrefix> Clear(EidPrefix? filter)
    {
        var removed = new List<EidPrefix>();
        foreach (var entry in _cache.Entries)
        {
            if (filter is { } f && !entry.Eid.Contains(f) && !f.Contains(entry.Eid)) continue;
            if (_cache.Remove(entry.Eid)) removed.Add(entry.Eid);
        }

        return removed;
    }

    /// <summary>The remote RLOCs used within the in-use window (older ones are forgotten).</summary>
    public List<LispAddress> RemoteRlocsInUse(DateTimeOffset now)
    {
        var inUse = new List<LispAddress>();
        foreach (var (target, used) in _remoteRlocs.ToList())
        {
            if (now - used > site.Options.InUseWindow) _remoteRlocs.Remove(target);
            else inUse.Add(target);
        }

        return inUse;
    }

    private void NoteRemoteRlocs(IReadOnlyList<Locator> locators, DateTimeOffset when)
    {
        foreach (var l in locators)
        {
            if (!l.IsUsable || !l.Address.IsIp || site.IsOwnRloc(l.Address)) continue;
            var rloc = l.Address.WithInstanceId(null);
            if (!_remoteRlocs.TryGetValue(rloc, out var last) || last < when) _remoteRlocs[rloc] = when;
        }
    }

    /// <summary>
    /// Joins (or starts) the resolution of <paramref name="eid"/>; the task completes with the covering entry. An ordinary
    /// Map-Request even when the caller bypassed the cache: only an SMR received (<see cref="Refresh"/>) makes it SMR-invoked.
    /// </summary>
    public Task<MapCacheEntry> Resolve(EidPrefix eid, XtrCall call)
    {
        var tcs = new TaskCompletionSource<MapCacheEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        Start(eid, smrInvoked: false, call).Waiters.Add(tcs);
        return tcs.Task;
    }

    /// <summary>One resolution per prefix; a new ask joins it (rate limit: the retry schedule of the one in flight).</summary>
    public void Refresh(EidPrefix eid, XtrCall call) => Start(eid, smrInvoked: true, call);

    private PendingResolution Start(EidPrefix eid, bool smrInvoked, XtrCall call)
    {
        // Only IP EIDs can be asked for in an ECM (its inner header is IP); callers from the network check first.
        if (!eid.Address.IsIp) throw new ArgumentException($"{eid} is not an IP EID", nameof(eid));
        if (_byPrefix.TryGetValue(eid, out var existing))
        {
            existing.SmrInvoked |= smrInvoked;
            return existing;
        }

        var resolution = new PendingResolution { Eid = eid, SmrInvoked = smrInvoked, NextSend = call.Now };
        _byPrefix[eid] = resolution;
        SendMapRequest(resolution, call);
        return resolution;
    }

    private void SendMapRequest(PendingResolution resolution, XtrCall call)
    {
        if (_resolvers.Length == 0) return;
        _byNonce.Remove(resolution.Nonce);
        resolution.Nonce = site.Nonces.Next();
        _byNonce[resolution.Nonce] = resolution;
        resolution.Attempts++;
        resolution.NextSend = call.Now + (resolution.Attempts % site.Options.MapRequestRetries == 0 ? site.Options.MapRequestBackoff : site.Options.MapRequestInterval);
        var eidAddress = resolution.Eid.Address;
        var itr = site.RlocFor(eidAddress);
        var request = new MapRequest
        {
            SmrInvoked = resolution.SmrInvoked, Nonce = resolution.Nonce, SourceEid = LispAddress.None,
            ItrRlocs = site.Rlocs.Select(r => r.Address).ToArray(), Records = [resolution.Eid],
        };
        var innerSource = itr.Kind == eidAddress.Kind ? itr : eidAddress.WithInstanceId(null);
        var ecm = EncapsulatedControlMessage.Wrap(request, innerSource, eidAddress.WithInstanceId(null), (ushort)site.ControlPort);
        var resolver = _resolvers[_resolverIndex++ % _resolvers.Length];
        call.Sink.Send(ecm.ToArray(), resolver);
        site.Counters.MapRequestSent();
    }

    /// <summary>Map-Request retries and cache expiry; returns when it next has work, if ever. <paramref name="fault"/> reports an item given up.</summary>
    public DateTimeOffset? OnTimer(XtrCall call, Action<Exception> fault)
    {
        DateTimeOffset? next = null;
        List<PendingResolution>? failed = null;
        foreach (var r in _byPrefix.Values)
        {
            try
            {
                if (r.NextSend <= call.Now) SendMapRequest(r, call);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One resolution that cannot be sent must not stop the others (nor the registrations): it is given up.
                (failed ??= []).Add(r);
                fault(e);
                continue;
            }

            if (next is null || r.NextSend < next) next = r.NextSend;
        }

        foreach (var r in failed ?? [])
        {
            _byPrefix.Remove(r.Eid);
            _byNonce.Remove(r.Nonce);
            foreach (var w in r.Waiters) call.Completions.Add(() => w.TrySetException(new InvalidOperationException($"the resolution of {r.Eid} failed and was given up")));
        }

        // Expiry walks the whole cache: once a second is enough (a lookup already skips an expired entry). The same walk takes
        // in what the data plane used, so the remote ITRs it sends to count as in use for the SMRs after a move.
        if (_cache.Count > 0 && call.Now >= _nextCacheSweep)
        {
            _dataUsed.Clear();
            _cache.Expire(call.Now, _dataUsed);
            foreach (var e in _dataUsed) NoteRemoteRlocs(e.Locators, e.LastUsed);
            _nextCacheSweep = call.Now + TimeSpan.FromSeconds(1);
        }

        return next;
    }

    // A locator known down stays down in the new entry until the prober sees it answer.
    private MappingRecord WithReachability(MappingRecord record)
    {
        var down = false;
        foreach (var l in record.Locators) down |= l.Reachable && IsRlocDown(l.Address);
        if (!down) return record;
        return record with { Locators = record.Locators.Select(l => l.Reachable && IsRlocDown(l.Address) ? l with { Reachable = false } : l).ToArray() };
    }

    /// <summary>Installs a nonce-matched Map-Reply's records and answers those waiting; false when no resolution has its nonce.</summary>
    public bool TakeReply(MapReply reply, XtrCall call)
    {
        if (!_byNonce.Remove(reply.Nonce, out var resolution)) return false;
        _byPrefix.Remove(resolution.Eid);
        var now = call.Now;
        MapCacheEntry? answer = null;
        foreach (var record in reply.Records)
        {
            // Entries more specific than the answer that cover the asked EID are stale (a /32 withdrawn after a move home);
            // found by longest-prefix match on the asked address, not by walking the cache.
            while (_cache.Lookup(resolution.Eid.Address, now, touch: false) is { } stale &&
                   stale.Eid.MaskLength > record.Eid.MaskLength && record.Eid.Contains(stale.Eid))
            {
                _cache.Remove(stale.Eid);
            }

            var entry = _cache.Install(WithReachability(record), now, resolution.SmrInvoked ? MapCacheSource.Smr : MapCacheSource.MapReply);
            NoteRemoteRlocs(record.Locators, now);
            site.Counters.CacheInstalled();
            call.Events.Add(new MapCacheUpdated(now, record.Eid, record.Locators, resolution.SmrInvoked));
            if (record.Eid.Contains(resolution.Eid)) answer ??= entry;
        }

        answer ??= _cache.Lookup(resolution.Eid.Address, now, touch: false);
        foreach (var w in resolution.Waiters)
        {
            var result = answer;
            call.Completions.Add(() =>
            {
                if (result is null) w.TrySetException(new InvalidOperationException($"the Map-Reply for {resolution.Eid} carried no record covering it"));
                else w.TrySetResult(result);
            });
        }

        return true;
    }
}
