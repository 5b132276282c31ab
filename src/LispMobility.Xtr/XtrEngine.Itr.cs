using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Transport;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr;

public sealed partial class XtrEngine
{
    private readonly Dictionary<EidPrefix, Resolution> _resolutions = [];
    private readonly Dictionary<ulong, Resolution> _resolutionNonces = [];
    private int _resolverIndex;
    private DateTimeOffset _nextCacheSweep;

    // The remote RLOCs of map-cache entries and when an entry using them was last installed or used: the ITRs
    // SolicitRemoteItrs solicits, kept as entries come and go instead of walking the cache per move.
    private readonly Dictionary<LispAddress, DateTimeOffset> _remoteRlocs = [];

    // Under _gate.
    private void NoteRemoteRlocs(IReadOnlyList<Locator> locators, DateTimeOffset now)
    {
        foreach (var l in locators)
        {
            if (l.IsUsable && l.Address.IsIp && !_rlocAddresses.Contains(l.Address)) _remoteRlocs[l.Address.WithInstanceId(null)] = now;
        }
    }

    /// <summary>A Map-Request in flight for one prefix: its nonce, its retry budget and who waits for it.</summary>
    private sealed class Resolution
    {
        public required EidPrefix Eid { get; init; }
        public bool SmrInvoked { get; set; }
        public ulong Nonce { get; set; }
        public int Attempts { get; set; }
        public DateTimeOffset NextSend { get; set; }
        public List<TaskCompletionSource<MapCacheEntry>> Waiters { get; } = [];
    }

    /// <summary>The map-cache entries, most recently used first.</summary>
    public IReadOnlyList<MapCacheEntry> MapCacheEntries()
    {
        lock (_gate) { return _cache.Entries; }
    }

    /// <summary>The map-cache as last published: read by the data plane on any thread, without the engine's lock.</summary>
    public MapCacheSnapshot MapCacheSnapshot => _cache.Snapshot;

    /// <summary>The live map-cache entry covering <paramref name="address"/> (marks it used), or null.</summary>
    public MapCacheEntry? LookupMapCache(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var entry = _cache.Lookup(LispAddress.FromIPAddress(address), now);
            if (entry is not null) NoteRemoteRlocs(entry.Locators, now);
            return entry;
        }
    }

    /// <summary>
    /// The mapping of <paramref name="address"/>: from the map-cache when present (unless <paramref name="refresh"/>),
    /// else through the Map-Resolver. The task completes when a nonce-matched Map-Reply arrives.
    /// </summary>
    public Task<MapCacheEntry> BeginResolve(IPAddress address, IDatagramSink sink, bool refresh = false)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (_resolvers.Length == 0) return Task.FromException<MapCacheEntry>(new InvalidOperationException($"site {Site} has no Map-Resolver configured"));
        var eid = LispAddress.FromIPAddress(address);
        var tcs = new TaskCompletionSource<MapCacheEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (!refresh && _cache.Lookup(eid, now) is { } hit)
            {
                NoteRemoteRlocs(hit.Locators, now);
                return Task.FromResult(hit);
            }
            var resolution = StartResolution(EidPrefix.Host(eid), smrInvoked: refresh, now, sink);
            resolution.Waiters.Add(tcs);
        }

        return tcs.Task;
    }

    // Under _gate. One resolution per prefix; a new ask joins it (rate limit: 1 Map-Request per second per prefix).
    private Resolution StartResolution(EidPrefix eid, bool smrInvoked, DateTimeOffset now, IDatagramSink sink)
    {
        // Only IP EIDs can be asked for in an ECM (its inner header is IP); callers from the network check first.
        if (!eid.Address.IsIp) throw new ArgumentException($"{eid} is not an IP EID", nameof(eid));
        if (_resolutions.TryGetValue(eid, out var existing))
        {
            existing.SmrInvoked |= smrInvoked;
            return existing;
        }

        var resolution = new Resolution { Eid = eid, SmrInvoked = smrInvoked, NextSend = now };
        _resolutions[eid] = resolution;
        SendMapRequest(resolution, now, sink);
        return resolution;
    }

    // Under _gate.
    private void SendMapRequest(Resolution resolution, DateTimeOffset now, IDatagramSink sink)
    {
        if (_resolvers.Length == 0) return;
        _resolutionNonces.Remove(resolution.Nonce);
        resolution.Nonce = _nonces.Next();
        _resolutionNonces[resolution.Nonce] = resolution;
        resolution.Attempts++;
        resolution.NextSend = now + (resolution.Attempts % _options.MapRequestRetries == 0 ? _options.MapRequestBackoff : _options.MapRequestInterval);
        var eidAddress = resolution.Eid.Address;
        var itr = RlocFor(eidAddress);
        var request = new MapRequest
        {
            SmrInvoked = resolution.SmrInvoked, Nonce = resolution.Nonce, SourceEid = LispAddress.None,
            ItrRlocs = _rlocs.Select(r => r.Address).ToArray(), Records = [resolution.Eid],
        };
        var innerSource = itr.Kind == eidAddress.Kind ? itr : eidAddress.WithInstanceId(null);
        var ecm = EncapsulatedControlMessage.Wrap(request, innerSource, eidAddress.WithInstanceId(null), (ushort)ControlPort);
        var resolver = _resolvers[_resolverIndex++ % _resolvers.Length];
        sink.Send(ecm.ToArray(), resolver);
        Counters.MapRequestSent();
    }

    // Under _gate.
    private DateTimeOffset? ResolutionTimers(DateTimeOffset now, IDatagramSink sink)
    {
        DateTimeOffset? next = null;
        List<Resolution>? failed = null;
        foreach (var r in _resolutions.Values)
        {
            try
            {
                if (r.NextSend <= now) SendMapRequest(r, now, sink);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One resolution that cannot be sent must not stop the others (nor, in OnTimer, the registrations): it is given up.
                (failed ??= []).Add(r);
                TimerFault("resolution", e, now);
                continue;
            }

            if (next is null || r.NextSend < next) next = r.NextSend;
        }

        foreach (var r in failed ?? [])
        {
            _resolutions.Remove(r.Eid);
            _resolutionNonces.Remove(r.Nonce);
            foreach (var w in r.Waiters) _completions.Add(() => w.TrySetException(new InvalidOperationException($"the resolution of {r.Eid} failed and was given up")));
        }

        // Expiry walks the whole cache: once a second is enough (a lookup already skips an expired entry).
        if (_cache.Count > 0 && now >= _nextCacheSweep)
        {
            _cache.Expire(now);
            _nextCacheSweep = now + TimeSpan.FromSeconds(1);
        }

        return next;
    }

    private void HandleMapReply(ReadOnlySpan<byte> datagram, IPEndPoint source, List<XtrEvent> events)
    {
        if (!MapReply.TryRead(datagram, out var reply, out var error))
        {
            Counters.Malformed();
            LogMalformed("Map-Reply", source, error.ToString());
            return;
        }

        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_resolutionNonces.Remove(reply.Nonce, out var resolution))
            {
                Counters.UnmatchedReply();
                return;
            }

            _resolutions.Remove(resolution.Eid);
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

                var entry = _cache.Install(record, now);
                NoteRemoteRlocs(record.Locators, now);
                Counters.CacheInstalled();
                events.Add(new MapCacheUpdated(now, record.Eid, record.Locators, resolution.SmrInvoked));
                if (record.Eid.Contains(resolution.Eid)) answer ??= entry;
            }

            answer ??= _cache.Lookup(resolution.Eid.Address, now, touch: false);
            foreach (var w in resolution.Waiters)
            {
                var result = answer;
                _completions.Add(() =>
                {
                    if (result is null) w.TrySetException(new InvalidOperationException($"the Map-Reply for {resolution.Eid} carried no record covering it"));
                    else w.TrySetResult(result);
                });
            }
        }
    }
}
