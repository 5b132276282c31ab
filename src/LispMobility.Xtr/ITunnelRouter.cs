using System.Net;
using LispMobility.Lisp.Records;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr;

/// <summary>What the mobility coordinator asks of a site's xTR.</summary>
public interface ITunnelRouter
{
    /// <summary>The site the xTR serves.</summary>
    string Site { get; }

    /// <summary>The site's RLOCs.</summary>
    IReadOnlyList<Locator> Rlocs { get; }

    /// <summary>Registers a host's /32 (or /128) and completes when every Map-Server acknowledged.</summary>
    Task<RegistrationResult> RegisterHostAsync(IPAddress eid, string? range = null, CancellationToken cancellationToken = default);

    /// <summary>Withdraws a host's /32 (record TTL 0).</summary>
    Task WithdrawHostAsync(IPAddress eid, bool removeRoute = true, CancellationToken cancellationToken = default);

    /// <summary>Resolves an EID through the Map-Resolver (refresh = ask even when cached).</summary>
    Task<MapCacheEntry> ResolveAsync(IPAddress eid, bool refresh = false, CancellationToken cancellationToken = default);

    /// <summary>SMRs the remote ITRs this site talks to about <paramref name="eid"/>.</summary>
    int SolicitRemoteItrs(IPAddress eid);

    /// <summary>The ETR's state for a host, or null.</summary>
    HostState? StateOf(IPAddress eid);
}
