using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Polly;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// <see cref="IVsphereApi"/> over <see cref="HttpClient"/>: a lazily created session sent as
/// <c>vmware-api-session-id</c>, one re-login and replay on 401, the legacy <c>/rest</c> forms when
/// <c>/api/session</c> does not exist, and every call through the resilience pipeline.
/// </summary>
public sealed partial class VsphereRestClient : IVsphereApi
{
    private const string SessionHeader = "vmware-api-session-id";
    private readonly HttpClient _http;
    private readonly VCenterCredentials _credentials;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _pipeline;
    private readonly SemaphoreSlim _login = new(1, 1);
    private volatile string? _token;
    private volatile bool _legacy;

    /// <summary>Creates the client; <paramref name="http"/> has the vCenter's base address.</summary>
    public VsphereRestClient(HttpClient http, VCenterCredentials credentials, ILogger logger, ResiliencePipeline? pipeline = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(logger);
        if (http.BaseAddress is null) throw new ArgumentException("the HttpClient needs the vCenter's BaseAddress", nameof(http));
        _http = http;
        _credentials = credentials;
        _logger = logger;
        _pipeline = pipeline ?? ResiliencePipeline.Empty;
    }

    /// <summary>The current session token (tests invalidate it to provoke a 401).</summary>
    internal string? SessionToken => _token;

    /// <summary>True once the vCenter turned out to have only the legacy /rest API.</summary>
    public bool UsesLegacyApi => _legacy;

    /// <inheritdoc />
    public Task LoginAsync(CancellationToken ct) => _pipeline.ExecuteAsync(async token => await Login(null, token).ConfigureAwait(false), ct).AsTask();

    /// <inheritdoc />
    public async Task LogoutAsync(CancellationToken ct)
    {
        var token = _token;
        if (token is null) return;
        _token = null;
        using var request = new HttpRequestMessage(HttpMethod.Delete, _legacy ? "rest/com/vmware/cis/session" : "api/session");
        request.Headers.Add(SessionHeader, token);
        try
        {
            using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            // Logging out of an unreachable vCenter: the session expires on its own.
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereHost>> ListHostsAsync(CancellationToken ct) =>
        List("vcenter/host", VsphereJson.Default.ListVsphereHost, VsphereJson.Default.VsphereValueListVsphereHost, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereHost>> ListHostsInClusterAsync(string cluster, CancellationToken ct) =>
        List(Filtered("vcenter/host", "clusters", cluster), VsphereJson.Default.ListVsphereHost, VsphereJson.Default.VsphereValueListVsphereHost, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereCluster>> ListClustersAsync(CancellationToken ct) =>
        List("vcenter/cluster", VsphereJson.Default.ListVsphereCluster, VsphereJson.Default.VsphereValueListVsphereCluster, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereDatacenter>> ListDatacentersAsync(CancellationToken ct) =>
        List("vcenter/datacenter", VsphereJson.Default.ListVsphereDatacenter, VsphereJson.Default.VsphereValueListVsphereDatacenter, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereVmSummary>> ListVmsOnHostAsync(string host, CancellationToken ct) =>
        List(Filtered("vcenter/vm", "hosts", host), VsphereJson.Default.ListVsphereVmSummary, VsphereJson.Default.VsphereValueListVsphereVmSummary, ct);

    /// <inheritdoc />
    public Task<IReadOnlyList<VsphereVmSummary>> ListVmsInClusterAsync(string cluster, CancellationToken ct) =>
        List(Filtered("vcenter/vm", "clusters", cluster), VsphereJson.Default.ListVsphereVmSummary, VsphereJson.Default.VsphereValueListVsphereVmSummary, ct);

    /// <inheritdoc />
    public async Task<VsphereVmInfo?> GetVmAsync(string vm, CancellationToken ct)
    {
        var path = $"vcenter/vm/{Uri.EscapeDataString(vm)}";
        return await _pipeline.ExecuteAsync(async token =>
        {
            using var response = await Send(path, token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound) return null;
            await EnsureSuccess(response, path, token).ConfigureAwait(false);
            if (!_legacy) return await Read(response, VsphereJson.Default.VsphereVmInfo, path, token).ConfigureAwait(false);
            var legacy = (await Read(response, VsphereLegacyJson.Default.VsphereValueVsphereLegacyVmInfo, path, token).ConfigureAwait(false)).Value;
            return new VsphereVmInfo(legacy.Name, legacy.PowerState, legacy.Nics?.ToDictionary(n => n.Key, n => n.Value));
        }, ct).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<VsphereGuestInterface>?> GetGuestInterfacesAsync(string vm, CancellationToken ct)
    {
        var path = $"vcenter/vm/{Uri.EscapeDataString(vm)}/guest/networking/interfaces";
        return await _pipeline.ExecuteAsync<IReadOnlyList<VsphereGuestInterface>?>(async token =>
        {
            using var response = await Send(path, token).ConfigureAwait(false);
            // 503 here means the guest cannot answer (powered off, no VMware Tools): a fact, not an outage.
            if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.NotFound) return null;
            await EnsureSuccess(response, path, token).ConfigureAwait(false);
            return _legacy
                ? (await Read(response, VsphereJson.Default.VsphereValueListVsphereGuestInterface, path, token).ConfigureAwait(false)).Value
                : await Read(response, VsphereJson.Default.ListVsphereGuestInterface, path, token).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    private string Filtered(string path, string filter, string value) =>
        $"{path}?{(_legacy ? "filter." : "")}{filter}={Uri.EscapeDataString(value)}";

    private async Task<IReadOnlyList<T>> List<T>(string path, JsonTypeInfo<List<T>> modern, JsonTypeInfo<VsphereValue<List<T>>> legacy, CancellationToken ct) =>
        await _pipeline.ExecuteAsync<IReadOnlyList<T>>(async token =>
        {
            using var response = await Send(path, token).ConfigureAwait(false);
            await EnsureSuccess(response, path, token).ConfigureAwait(false);
            return _legacy
                ? (await Read(response, legacy, path, token).ConfigureAwait(false)).Value
                : await Read(response, modern, path, token).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);

    // One GET with the session; on 401 a single re-login and replay (the session expired or was revoked).
    private async Task<HttpResponseMessage> Send(string path, CancellationToken ct)
    {
        var token = _token ?? await Login(null, ct).ConfigureAwait(false);
        var response = await Get(path, token, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized) return response;
        response.Dispose();
        LogSessionExpired(_logger, path);
        token = await Login(token, ct).ConfigureAwait(false);
        response = await Get(path, token, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized) return response;
        response.Dispose();
        throw new VsphereAuthenticationException($"vCenter answered 401 to {path} right after a fresh login of user {_credentials.UserName}", HttpStatusCode.Unauthorized);
    }

    private async Task<HttpResponseMessage> Get(string path, string token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, (_legacy ? "rest/" : "api/") + path);
        request.Headers.Add(SessionHeader, token);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
    }

    // Serialized, so that ten calls failing with 401 at once make one login; a caller whose stale token was already replaced reuses the new one.
    private async Task<string> Login(string? stale, CancellationToken ct)
    {
        await _login.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is { } current && current != stale) return current;
            _token = null;
            var basic = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_credentials.UserName}:{_credentials.Password}")));
            if (!_legacy)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "api/session") { Headers = { Authorization = basic } };
                using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
                {
                    _legacy = true;
                    LogLegacyApi(_logger);
                }
                else
                {
                    await EnsureLoggedIn(response, ct).ConfigureAwait(false);
                    _token = await Read(response, VsphereJson.Default.String, "api/session", ct).ConfigureAwait(false);
                }
            }
            if (_legacy)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "rest/com/vmware/cis/session") { Headers = { Authorization = basic } };
                using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                await EnsureLoggedIn(response, ct).ConfigureAwait(false);
                _token = (await Read(response, VsphereJson.Default.VsphereValueString, "rest/com/vmware/cis/session", ct).ConfigureAwait(false)).Value;
            }
            LogLoggedIn(_logger, _credentials.UserName, _legacy ? "/rest" : "/api");
            return _token!;
        }
        finally
        {
            _login.Release();
        }
    }

    private async Task EnsureLoggedIn(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new VsphereAuthenticationException($"vCenter rejected the credentials of user {_credentials.UserName} ({(int)response.StatusCode})", response.StatusCode);
        await EnsureSuccess(response, "session", ct).ConfigureAwait(false);
    }

    private static async Task EnsureSuccess(HttpResponseMessage response, string path, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        string? type = null, message = null;
        try
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            var error = JsonSerializer.Deserialize(body, VsphereJson.Default.VsphereError);
            type = error?.ErrorType;
            message = error?.Messages?.FirstOrDefault()?.DefaultMessage;
        }
        catch (JsonException)
        {
            // Not a vCenter error body (a proxy's page): the status says enough.
        }
        throw new VsphereException($"vCenter answered {(int)response.StatusCode} {type} to {path}{(message is null ? "" : ": " + message)}", response.StatusCode, type);
    }

    private static async Task<T> Read<T>(HttpResponseMessage response, JsonTypeInfo<T> info, string path, CancellationToken ct)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(stream, info, ct).ConfigureAwait(false)
                ?? throw new VsphereException($"vCenter answered null to {path}", response.StatusCode);
        }
        catch (JsonException e)
        {
            throw new VsphereException($"vCenter's answer to {path} is not the expected JSON: {e.Message}", response.StatusCode, inner: e);
        }
    }
}
