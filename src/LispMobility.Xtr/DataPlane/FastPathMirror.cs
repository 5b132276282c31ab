using System.Net;
using System.Runtime.Versioning;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Platform.DataPlane.FastPath;
using LispMobility.Xtr.Caching;
using Microsoft.Extensions.Logging;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// Keeps the kernel fast path's maps a copy of what the user-space data plane decides by: the map-cache's entries that the
/// ITR program can serve (positive, live, of the site's instance ID, whose chosen locators are IPv4), with the locators
/// spread over the flow buckets by weight, and the ETR's EID view. It also takes the programs' reports (SMRs to send,
/// locator-status bits) to the control plane, their notes of routes used to the map-cache entries, and their counters into
/// <see cref="DataPlaneCounters"/>. One thread calls <see cref="Run"/>; <see cref="Changed"/> may be called from any thread.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class FastPathMirror
{
    /// <summary>Failed rounds in a row (100 ms apart) after which the programs are detached.</summary>
    public const int FaultLimit = 10;

    private const int PollMs = 100;
    private readonly KernelFastPath _kernel;
    private readonly DataPlaneSettings _settings;
    private readonly Func<MapCacheSnapshot> _snapshot;
    private readonly Func<IReadOnlyList<MapCacheEntry>> _entries;
    private readonly Func<LocalEids> _eids;
    private readonly DataPlaneCounters _counters;
    private readonly IDataPlaneSignals _signals;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AutoResetEvent _changed = new(false);
    private readonly RateLimiter _reportLimit;
    private readonly IPAddress? _source;
    private readonly bool _hasV6Rloc;
    private readonly byte _lsbs;
    private readonly Dictionary<(IPAddress, int), FastPathRoute> _routes = [];
    private readonly Dictionary<(IPAddress, int), LocalEidState> _localEids = [];
    private readonly List<FastPathReport> _reports = [];
    private readonly List<IPAddress> _used = [];
    private MapCacheSnapshot? _syncedSnapshot;
    private LocalEids? _syncedEids;
    private DateTimeOffset _nextExpiry = DateTimeOffset.MaxValue;
    private FastPathCounts _counted;
    private bool _toldRoutesFull;
    private bool _toldEidsFull;

    public FastPathMirror(KernelFastPath kernel, DataPlaneSettings settings, Func<MapCacheSnapshot> snapshot, Func<IReadOnlyList<MapCacheEntry>> entries,
        Func<LocalEids> eids, DataPlaneCounters counters, IDataPlaneSignals signals, TimeProvider time, ILogger logger)
    {
        _kernel = kernel;
        _settings = settings;
        _snapshot = snapshot;
        _entries = entries;
        _eids = eids;
        _counters = counters;
        _signals = signals;
        _time = time;
        _logger = logger;
        _reportLimit = new RateLimiter(4096, settings.SignalInterval);
        _source = settings.LocalRlocs.FirstOrDefault(r => r.Kind == AddressKind.IPv4) is { Kind: AddressKind.IPv4 } v4 ? v4.ToIPAddress() : null;
        _hasV6Rloc = settings.LocalRlocs.Any(r => r.Kind == AddressKind.IPv6);
        // As the user-space ITR: our locators are all up as far as this xTR knows; at most 8 fit beside an instance ID.
        _lsbs = (byte)(settings.LocalRlocs.Count >= 8 ? 0xFF : (1 << settings.LocalRlocs.Count) - 1);
    }

    /// <summary>Whether the copy failed so often that the programs were detached (the user-space loops carry everything since).</summary>
    public bool Detached { get; private set; }

    /// <summary>The map-cache or the EID view changed: copy it now rather than at the next poll.</summary>
    public void Changed() => _changed.Set();

    /// <summary>
    /// Copies, reports and counts until <paramref name="stop"/>. A round that fails is logged and the next one tries again;
    /// after <see cref="FaultLimit"/> failed rounds in a row the programs are detached, since maps that no longer follow the
    /// map-cache would send traffic where the VM no longer is.
    /// </summary>
    public void Run(CancellationToken stop)
    {
        var faults = 0;
        while (!stop.IsCancellationRequested)
        {
            _changed.WaitOne(PollMs);
            try
            {
                Sync();
                faults = 0;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogSyncFault(e);
                if (++faults < FaultLimit) continue;
                _kernel.Dispose();
                Detached = true;
                LogDetached(FaultLimit);
                return;
            }
        }
    }

    /// <summary>One round: the ETR's view, then the routes, then the reports and counters.</summary>
    internal void Sync()
    {
        var now = _time.GetUtcNow();
        var eids = _eids();
        if (!ReferenceEquals(eids, _syncedEids))
        {
            SyncEids(eids);
            _syncedEids = eids;
        }

        var snapshot = _snapshot();
        if (!ReferenceEquals(snapshot, _syncedSnapshot) || now >= _nextExpiry)
        {
            SyncRoutes(now);
            _syncedSnapshot = snapshot;
        }

        _reports.Clear();
        _kernel.DrainReports(_reports);
        foreach (var r in _reports) Report(r, now);
        _used.Clear();
        if (_kernel.DrainUsed(_used) > 0)
        {
            // As the user-space ITR notes a packet sent by an entry: the map-cache's sweep takes it in as the entry's last use.
            foreach (var destination in _used)
            {
                snapshot.Lookup(LispAddress.FromIPAddress(destination).WithInstanceId(_settings.InstanceId), now)?.NoteDataUse(now.UtcTicks);
            }
        }

        var counts = _kernel.ReadCounters();
        _counters.FastPath(
            counts.Encapsulated - _counted.Encapsulated, counts.EncapsulatedSuperPackets - _counted.EncapsulatedSuperPackets,
            counts.Decapsulated - _counted.Decapsulated, counts.DecapsulatedSuperPackets - _counted.DecapsulatedSuperPackets);
        _counters.Drop(DataPlaneDrop.EidAway, counts.AwayDropped - _counted.AwayDropped);
        _counters.Drop(DataPlaneDrop.ForeignTunnel, counts.ForeignVxlanDropped - _counted.ForeignVxlanDropped);
        _counters.Drop(DataPlaneDrop.FastPathFailed, counts.Failed - _counted.Failed);
        _counted = counts;
    }

    private void SyncEids(LocalEids eids)
    {
        var wanted = new Dictionary<(IPAddress, int), LocalEidState>();
        foreach (var (prefix, state) in eids.Table()) wanted[(prefix.Address.ToIPAddress(), prefix.MaskLength)] = state;
        foreach (var key in _localEids.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
        {
            _kernel.DeleteEid(key.Item1, key.Item2);
            _localEids.Remove(key);
        }

        foreach (var (key, state) in wanted)
        {
            if (_localEids.TryGetValue(key, out var had) && had == state) continue;
            if (_kernel.SetEid(key.Item1, key.Item2, (FastPathEidState)(int)state)) _localEids[key] = state;
            else if (!_toldEidsFull)
            {
                _toldEidsFull = true;
                LogEidsFull(KernelFastPath.MaxEids);
            }
        }
    }

    private void SyncRoutes(DateTimeOffset now)
    {
        var wanted = new Dictionary<(IPAddress, int), FastPathRoute>();
        var nextExpiry = DateTimeOffset.MaxValue;
        foreach (var entry in _entries())
        {
            if (RouteOf(entry, now) is not { } route) continue;
            wanted[(entry.Eid.Address.WithInstanceId(null).ToIPAddress(), entry.Eid.MaskLength)] = route;
            if (entry.Expires < nextExpiry) nextExpiry = entry.Expires;
        }

        foreach (var key in _routes.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
        {
            _kernel.DeleteRoute(key.Item1, key.Item2);
            _routes.Remove(key);
        }

        foreach (var (key, route) in wanted)
        {
            if (_routes.TryGetValue(key, out var had) && Same(had, route)) continue;
            if (_kernel.SetRoute(key.Item1, key.Item2, route)) _routes[key] = route;
            else if (!_toldRoutesFull)
            {
                _toldRoutesFull = true;
                LogRoutesFull(KernelFastPath.MaxRoutes);
            }
        }

        _nextExpiry = nextExpiry;
    }

    // What the user-space ITR would do with the entry, where the ITR program can do the same: null leaves it to user space.
    private FastPathRoute? RouteOf(MapCacheEntry entry, DateTimeOffset now)
    {
        var eid = entry.Eid.Address;
        if (_source is null || entry.IsNegative || entry.Expires <= now || !eid.IsIp) return null;
        if (eid.HasInstanceId != _settings.InstanceId.HasValue || (eid.HasInstanceId && eid.InstanceId != _settings.InstanceId)) return null;
        // The locators RlocSelector chooses among: usable, of a family we have an RLOC of, of the best priority.
        var best = int.MaxValue;
        foreach (var l in entry.LocatorArray)
        {
            if (l.IsUsable && CanSendTo(l.Address) && l.Priority < best) best = l.Priority;
        }

        var chosen = entry.LocatorArray.Where(l => l.IsUsable && CanSendTo(l.Address) && l.Priority == best).ToList();
        if (chosen.Count == 0 || chosen.Any(l => l.Address.Kind != AddressKind.IPv4)) return null;
        return new FastPathRoute(_settings.InstanceId ?? 0, _lsbs, _source, Spread(chosen));
    }

    private bool CanSendTo(LispAddress a) => a.Kind == AddressKind.IPv4 ? _source is not null : a.Kind == AddressKind.IPv6 && _hasV6Rloc;

    // Each bucket takes the locator whose share of the total weight covers the bucket's point (all weights 0: an even split).
    internal static IPAddress[] Spread(IReadOnlyList<Locator> locators)
    {
        var buckets = new IPAddress[FastPathRoute.BucketCount];
        var total = locators.Sum(l => (int)l.Weight);
        for (var b = 0; b < buckets.Length; b++)
        {
            if (total == 0)
            {
                buckets[b] = locators[b % locators.Count].Address.ToIPAddress();
                continue;
            }

            var point = (b * 2 + 1) * total / (2 * buckets.Length);
            var at = 0;
            foreach (var l in locators)
            {
                at += l.Weight;
                if (point >= at) continue;
                buckets[b] = l.Address.ToIPAddress();
                break;
            }
        }

        return buckets;
    }

    private static bool Same(FastPathRoute a, FastPathRoute b) =>
        a.InstanceId == b.InstanceId && a.LocatorStatusBits == b.LocatorStatusBits && a.Source.Equals(b.Source) && a.Buckets.SequenceEqual(b.Buckets);

    private void Report(FastPathReport r, DateTimeOffset now)
    {
        var itr = LispAddress.FromIPAddress(r.Itr);
        var eid = LispAddress.FromIPAddress(r.Eid);
        var key = (UInt128)(uint)r.Kind << 120 ^ IpPacket.Bits(eid) ^ UInt128.RotateLeft((UInt128)IpPacket.Bits(itr) << 8 | r.Bits, 64);
        if (!_reportLimit.TryPass(key, now.UtcTicks)) return;
        if (r.Kind == FastPathReportKind.Solicit) _signals.SolicitItr(itr, eid);
        else _signals.LocatorStatusBits(eid.WithInstanceId(_settings.InstanceId), r.Bits, 8);
    }

    [LoggerMessage(EventId = 2311, Level = LogLevel.Warning, Message = "data plane: the kernel fast path could not copy the map-cache or EID view this round (it retries at the next)")]
    private partial void LogSyncFault(Exception e);

    [LoggerMessage(EventId = 2314, Level = LogLevel.Error, Message = "data plane: the kernel fast path's maps could not be kept up to date ({Rounds} rounds in a row): its programs are detached, and the user-space data plane carries every packet")]
    private partial void LogDetached(int rounds);

    [LoggerMessage(EventId = 2312, Level = LogLevel.Warning, Message = "data plane: the kernel fast path's ITR map is full ({Capacity} prefixes per family); further map-cache entries are served by the user-space ITR")]
    private partial void LogRoutesFull(int capacity);

    [LoggerMessage(EventId = 2313, Level = LogLevel.Warning, Message = "data plane: the kernel fast path's ETR map is full ({Capacity} entries per family); data for the EIDs left out is served by the user-space ETR")]
    private partial void LogEidsFull(int capacity);
}
