using System.Net;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr;

/// <summary>The answer for one EID of <see cref="ITunnelRouter.ResolveManyAsync"/>: its mapping, or why there is none.</summary>
public readonly record struct Resolution(MapCacheEntry? Entry, Exception? Error);

/// <summary>What the mobility coordinator asks of a site's xTR.</summary>
public interface ITunnelRouter
{
    /// <summary>The site the xTR serves.</summary>
    string Site { get; }

    /// <summary>The site's RLOCs.</summary>
    IReadOnlyList<Locator> Rlocs { get; }

    /// <summary>Registers a host's /32 (or /128) and completes when every Map-Server acknowledged.</summary>
    Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Registers many hosts' /32s at once (DR), many records to a Map-Register; one result per address, in order, each
    /// completing like <see cref="RegisterHostAsync"/>'s.
    /// </summary>
    Task<RegistrationResult>[] RegisterHostsAsync(IReadOnlyList<IPAddress> eids, string? range = null, CancellationToken cancellationToken = default);

    /// <summary>Withdraws many hosts' /32s at once; one task per address, in order.</summary>
    Task[] WithdrawHostsAsync(IReadOnlyList<IPAddress> eids, bool removeRoute = true, CancellationToken cancellationToken = default);

    /// <summary>Withdraws a host's /32 (record TTL 0).</summary>
    Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default);

    /// <summary>Resolves an EID through the Map-Resolver (refresh = ask even when cached).</summary>
    Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resolves many EIDs at once (the verification of a DR failover): their Map-Requests leave together; completes when
    /// every one has its answer or the resolve timeout has passed, with one outcome per address, in order.
    /// </summary>
    Task<IReadOnlyList<Resolution>> ResolveManyAsync(IReadOnlyList<IPAddress> eids, bool refresh = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks a remote site's xTR directly whether it is up: an RLOC probe to <paramref name="rloc"/> for <paramref name="eid"/>
    /// (an EID of that site). The round-trip time, or null when no answer came within <paramref name="timeout"/>.
    /// </summary>
    Task<TimeSpan?> ProbeRlocAsync(IPAddress rloc, IPAddress eid, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>SMRs the remote ITRs this site talks to about <paramref name="eid"/>.</summary>
    int SolicitRemoteItrs(IPAddress eid);

    /// <summary>
    /// Holds a host of this site's ranges away (blackhole, data-plane SMRs) because the mapping system maps it to
    /// <paramref name="mapping"/>'s locators elsewhere, as the Map-Server's news would have: for a VM that left while this
    /// xTR was down and whose news it acknowledged before it died. No-op for an EID outside the ranges or already away.
    /// </summary>
    void HoldAway(IPAddress eid, MapCacheEntry mapping);

    /// <summary>One host as <see cref="Hosts"/> lists it (state and since when), or null: without copying every host.</summary>
    HostInfo? HostOf(IPAddress eid);

    /// <summary>Every dynamic host the ETR knows, with its state and since when (the reconciler's view of the local xTR).</summary>
    IReadOnlyList<HostInfo> Hosts();
}
