using System.Net;
using System.Text.Json;
using Refit;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// <see cref="IVsphereApi"/> over the Refit-generated <see cref="IVsphereRestApi"/>: what the watcher needs beyond the
/// routes, namely "not found" and "the guest cannot tell" as null, and every other failure as a
/// <see cref="VsphereException"/> with vCenter's <c>error_type</c>. Sessions, 401 replay and the legacy API are in
/// <see cref="VsphereSessionHandler"/>, retries and the circuit breaker in the client's resilience handler
/// (see <see cref="VsphereServiceCollectionExtensions.AddVsphereClients"/>).
/// </summary>
public sealed class VsphereRestClient(IVsphereRestApi api, IVsphereSessionApi sessionApi, VsphereSession session) : IVsphereApi
{
    /// <summary>The current session token (tests revoke it to provoke a 401).</summary>
    internal string? SessionToken => session.Token;

    /// <summary>True once the vCenter turned out to have only the legacy /rest API.</summary>
    public bool UsesLegacyApi => session.Legacy;

    /// <inheritdoc />
    public Task LoginAsync(CancellationToken ct) => session.LoginAsync(sessionApi, null, ct);

    /// <inheritdoc />
    public Task LogoutAsync(CancellationToken ct) => session.LogoutAsync(sessionApi, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereHost>> ListHostsAsync(CancellationToken ct) => List(() => api.ListHosts(ct));

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereHost>> ListHostsInClusterAsync(string cluster, CancellationToken ct) => List(() => api.ListHostsInCluster(cluster, ct));

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereCluster>> ListClustersAsync(CancellationToken ct) => List(() => api.ListClusters(ct));

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereDatacenter>> ListDatacentersAsync(CancellationToken ct) => List(() => api.ListDatacenters(ct));

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereVmSummary>> ListVmsOnHostAsync(string host, CancellationToken ct) => List(() => api.ListVmsOnHost(host, ct));

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereVmSummary>> ListVmsInClusterAsync(string cluster, CancellationToken ct) => List(() => api.ListVmsInCluster(cluster, ct));

    /// <inheritdoc />
    public async Task<VsphereVmInfo?> GetVmAsync(string vm, CancellationToken ct)
    {
        try
        {
            return await api.GetVm(vm, ct).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (ApiException e)
        {
            throw Failure(e, $"vcenter/vm/{vm}");
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<VsphereGuestInterface>?> GetGuestInterfacesAsync(string vm, CancellationToken ct)
    {
        try
        {
            return await api.GetGuestInterfaces(vm, ct).ConfigureAwait(false);
        }
        // 503 here means the guest cannot answer (powered off, no VMware Tools): a fact, not an outage.
        catch (ApiException e) when (e.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (ApiException e)
        {
            throw Failure(e, $"vcenter/vm/{vm}/guest/networking/interfaces");
        }
    }

    private static async Task<IReadOnlyList<T>> List<T>(Func<Task<List<T>>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            throw Failure(e, null);
        }
    }

    /// <summary>A Refit failure as a <see cref="VsphereException"/>: the status, vCenter's error_type and first message.</summary>
    internal static VsphereException Failure(ApiException e, string? path)
    {
        path ??= e.RequestMessage?.RequestUri?.PathAndQuery.TrimStart('/') ?? "?";
        if ((int)e.StatusCode is >= 200 and < 300)
            return new VsphereException($"vCenter's answer to {path} is not the expected JSON: {e.InnerException?.Message ?? e.Message}", e.StatusCode, inner: e);
        string? type = null, message = null;
        try
        {
            if (e.Content is { Length: > 0 } body && JsonSerializer.Deserialize(body, VsphereJson.Default.VsphereError) is { } error)
                (type, message) = (error.ErrorType, error.Messages?.FirstOrDefault()?.DefaultMessage);
        }
        catch (JsonException)
        {
            // Not a vCenter error body (a proxy's page): the status says enough.
        }
        return new VsphereException($"vCenter answered {(int)e.StatusCode} {type} to {path}{(message is null ? "" : ": " + message)}", e.StatusCode, type, e);
    }
}
