using System.Net;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr;

/// <summary>What the management API, the metrics and the lab read of a running xTR, and the events they follow.</summary>
public interface IXtrStatus
{
    /// <summary>The xTR-ID sent in every Map-Register.</summary>
    UInt128 XtrId { get; }

    /// <summary>What the protocol engine counted.</summary>
    XtrCounters Counters { get; }

    /// <summary>The route-programming queue's depth and what it applied, retried and failed.</summary>
    IRouteProgrammingStatus RouteProgramming { get; }

    /// <summary>The dynamic hosts and their state.</summary>
    IReadOnlyList<HostInfo> Hosts();

    /// <summary>When each Map-Server last acknowledged a registration, and when one was last sent to it.</summary>
    IReadOnlyList<(IPEndPoint MapServer, DateTimeOffset? LastAcknowledged, DateTimeOffset? LastSent)> MapServerStatus();

    /// <summary>The map-cache entries, most recently used first.</summary>
    IReadOnlyList<MapCacheEntry> MapCacheEntries();

    /// <summary>The remote locators the RLOC prober knows (empty when probing is off): up or down, probe counts, round trip.</summary>
    IReadOnlyList<RemoteRloc> RemoteRlocs();

    /// <summary>The live map-cache entry covering <paramref name="address"/> (marks it used), or null.</summary>
    MapCacheEntry? LookupMapCache(IPAddress address);

    /// <summary>The name of the dynamic-EID range containing <paramref name="address"/>, or null.</summary>
    string? RangeOf(IPAddress address);

    /// <summary>Registrations, away transitions, cache updates, SMRs and refused route changes; raised outside the engine's lock.</summary>
    event EventHandler<XtrEvent>? EventRaised;
}

/// <summary>The route-programming queue as the metrics read it.</summary>
public interface IRouteProgrammingStatus
{
    /// <summary>Changes taken and not yet applied, superseded or failed.</summary>
    long Pending { get; }

    /// <summary>Changes the route table applied.</summary>
    long Programmed { get; }

    /// <summary>Batches handed to the route table.</summary>
    long Batches { get; }

    /// <summary>Changes tried again after a transient failure.</summary>
    long Retries { get; }

    /// <summary>Changes the route table refused for good.</summary>
    long Failures { get; }

    /// <summary>Completes once every change taken so far is applied, superseded or reported failed.</summary>
    Task WhenIdleAsync(CancellationToken cancellationToken = default);
}
