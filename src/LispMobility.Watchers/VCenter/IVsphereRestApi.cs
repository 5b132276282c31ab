using Refit;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// The vSphere Automation REST endpoints the watcher reads, as a Refit interface (the client is source-generated and
/// registered with <c>AddRefitGeneratedClient</c>). The routes are the 7.0 U2+ <c>/api</c> ones: on an older vCenter
/// <see cref="VsphereSessionHandler"/> rewrites them to <c>/rest</c>, prefixes the filters with <c>filter.</c> and
/// unwraps the <c>{"value": …}</c> bodies, so the same interface serves both. The session header is added there too.
/// </summary>
public interface IVsphereRestApi
{
    /// <summary>GET /api/vcenter/host.</summary>
    [Get("/api/vcenter/host")]
    Task<List<VsphereHost>> ListHosts(CancellationToken ct);

    /// <summary>GET /api/vcenter/host?clusters={clusters}.</summary>
    [Get("/api/vcenter/host")]
    Task<List<VsphereHost>> ListHostsInCluster(string clusters, CancellationToken ct);

    /// <summary>GET /api/vcenter/cluster.</summary>
    [Get("/api/vcenter/cluster")]
    Task<List<VsphereCluster>> ListClusters(CancellationToken ct);

    /// <summary>GET /api/vcenter/datacenter.</summary>
    [Get("/api/vcenter/datacenter")]
    Task<List<VsphereDatacenter>> ListDatacenters(CancellationToken ct);

    /// <summary>GET /api/vcenter/vm?hosts={hosts}.</summary>
    [Get("/api/vcenter/vm")]
    Task<List<VsphereVmSummary>> ListVmsOnHost(string hosts, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm?clusters={clusters}.</summary>
    [Get("/api/vcenter/vm")]
    Task<List<VsphereVmSummary>> ListVmsInCluster(string clusters, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm/{vm}.</summary>
    [Get("/api/vcenter/vm/{vm}")]
    Task<VsphereVmInfo> GetVm(string vm, CancellationToken ct);

    /// <summary>GET /api/vcenter/vm/{vm}/guest/networking/interfaces.</summary>
    [Get("/api/vcenter/vm/{vm}/guest/networking/interfaces")]
    Task<List<VsphereGuestInterface>> GetGuestInterfaces(string vm, CancellationToken ct);
}

/// <summary>
/// Session creation and deletion, a Refit client of its own without the session handler (it is what that handler
/// calls to log in). Both API generations: <c>/api/session</c>, and <c>/rest/com/vmware/cis/session</c> before 7.0 U2.
/// </summary>
public interface IVsphereSessionApi
{
    /// <summary>POST /api/session with HTTP Basic: the token as a JSON string.</summary>
    [Post("/api/session")]
    Task<VsphereSessionToken> CreateSession([Header("Authorization")] string basic, CancellationToken ct);

    /// <summary>POST /rest/com/vmware/cis/session with HTTP Basic: <c>{"value": token}</c>.</summary>
    [Post("/rest/com/vmware/cis/session")]
    Task<VsphereValue<VsphereSessionToken>> CreateLegacySession([Header("Authorization")] string basic, CancellationToken ct);

    /// <summary>DELETE /api/session.</summary>
    [Delete("/api/session")]
    Task DeleteSession([Header(VsphereSession.Header)] string token, CancellationToken ct);

    /// <summary>DELETE /rest/com/vmware/cis/session.</summary>
    [Delete("/rest/com/vmware/cis/session")]
    Task DeleteLegacySession([Header(VsphereSession.Header)] string token, CancellationToken ct);
}
