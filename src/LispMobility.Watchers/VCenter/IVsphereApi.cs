using System.Net;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// The part of the vSphere Automation REST API the watcher uses, shaped like a Refit interface (one method per
/// endpoint, the route in its summary) so that a generated client could replace the hand-written one.
/// </summary>
public interface IVsphereApi
{
    /// <summary>POST /api/session (or /rest/com/vmware/cis/session on older vCenters): a fresh session.</summary>
    Task LoginAsync(CancellationToken ct);

    /// <summary>DELETE /api/session.</summary>
    Task LogoutAsync(CancellationToken ct);

    /// <summary>GET /api/vcenter/host.</summary>
    Task<IReadOnlyList<VsphereHost>> ListHostsAsync(CancellationToken ct);

    /// <summary>GET /api/vcenter/host?clusters={cluster}: the hosts of one cluster.</summary>
    Task<IReadOnlyList<VsphereHost>> ListHostsInClusterAsync(string cluster, CancellationToken ct);

    /// <summary>GET /api/vcenter/cluster.</summary>
    Task<IReadOnlyList<VsphereCluster>> ListClustersAsync(CancellationToken ct);

    /// <summary>GET /api/vcenter/datacenter.</summary>
    Task<IReadOnlyList<VsphereDatacenter>> ListDatacentersAsync(CancellationToken ct);

    /// <summary>GET /api/vcenter/vm?hosts={host}: always filtered, never the capped unfiltered list.</summary>
    Task<IReadOnlyList<VsphereVmSummary>> ListVmsOnHostAsync(string host, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm?clusters={cluster}.</summary>
    Task<IReadOnlyList<VsphereVmSummary>> ListVmsInClusterAsync(string cluster, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm/{vm}: name, power state, NICs with MACs (known without VMware Tools); null when not found.</summary>
    Task<VsphereVmInfo?> GetVmAsync(string vm, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm/{vm}/guest/networking/interfaces; null when the guest cannot tell (503: off, no Tools).</summary>
    Task<IReadOnlyList<VsphereGuestInterface>?> GetGuestInterfacesAsync(string vm, CancellationToken ct);
}

/// <summary>A REST call that failed: the HTTP status and vCenter's error_type when it sent one.</summary>
public class VsphereException(string message, HttpStatusCode? status = null, string? errorType = null, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>The HTTP status, null when no answer came.</summary>
    public HttpStatusCode? Status { get; } = status;

    /// <summary>vCenter's error_type (NOT_FOUND, UNAUTHENTICATED, …).</summary>
    public string? ErrorType { get; } = errorType;

    /// <summary>True for what a retry may cure: no answer, 5xx, 429.</summary>
    public bool IsTransient => Status is null || (int)Status >= 500 || Status == HttpStatusCode.TooManyRequests;
}

/// <summary>vCenter rejected the credentials (wrong password, locked account): not retried quickly, logged without the secret.</summary>
public sealed class VsphereAuthenticationException(string message, HttpStatusCode? status = null)
    : VsphereException(message, status, "UNAUTHENTICATED");
