using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Refit;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// The REST session shared by the handler that uses it and the client that reports on it: the token, whether this
/// vCenter has only the legacy <c>/rest</c> API, and the login (serialized: ten calls failing with 401 at once make one).
/// </summary>
public sealed partial class VsphereSession(Func<VCenterCredentials> credentials, ILogger logger) : IDisposable
{
    /// <summary>The header that carries the session token.</summary>
    public const string Header = "vmware-api-session-id";

    private readonly Lazy<VCenterCredentials> _credentials = new(credentials);
    private readonly SemaphoreSlim _login = new(1, 1);
    private volatile string? _token;
    private volatile bool _legacy;

    /// <summary>The current token, null before the first login or after a logout.</summary>
    public string? Token => _token;

    /// <summary>True once the vCenter turned out to have only the legacy /rest API (404 or 405 on /api/session).</summary>
    public bool Legacy => _legacy;

    /// <summary>The credentials, resolved on first use (a missing password is the caller's configuration error).</summary>
    public VCenterCredentials Credentials => _credentials.Value;

    internal ILogger Logger => logger;

    /// <summary>
    /// A valid token: the current one unless it is <paramref name="stale"/> (a 401 just said so), else a fresh login
    /// through <c>/api/session</c>, or <c>/rest/com/vmware/cis/session</c> when the former does not exist.
    /// </summary>
    public async Task<string> LoginAsync(IVsphereSessionApi api, string? stale, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        await _login.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is { } current && current != stale) return current;
            _token = null;
            var user = Credentials;
            var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user.UserName}:{user.Password}"));
            string token;
            if (!_legacy)
            {
                try
                {
                    token = (await api.CreateSession(basic, ct).ConfigureAwait(false)).Value;
                    return Logged(_token = token, "/api");
                }
                catch (ApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
                {
                    _legacy = true;
                    LogLegacyApi(logger);
                }
                catch (ApiException e)
                {
                    throw LoginFailed(e, user);
                }
            }
            try
            {
                token = (await api.CreateLegacySession(basic, ct).ConfigureAwait(false)).Value.Value;
                return Logged(_token = token, "/rest");
            }
            catch (ApiException e)
            {
                throw LoginFailed(e, user);
            }
        }
        finally
        {
            _login.Release();
        }
    }

    /// <summary>Deletes the session, if any; an unreachable vCenter lets it expire on its own.</summary>
    public async Task LogoutAsync(IVsphereSessionApi api, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        var token = _token;
        if (token is null) return;
        _token = null;
        try
        {
            if (_legacy) await api.DeleteLegacySession(token, ct).ConfigureAwait(false);
            else await api.DeleteSession(token, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or ApiException)
        {
            // Logging out of an unreachable vCenter, or of a session it already dropped: it expires on its own.
        }
    }

    /// <inheritdoc />
    public void Dispose() => _login.Dispose();

    internal void SessionExpired(string path) => LogSessionExpired(logger, path);

    private string Logged(string token, string api)
    {
        LogLoggedIn(logger, Credentials.UserName, api);
        return token;
    }

    private static VsphereException LoginFailed(ApiException e, VCenterCredentials user) =>
        e.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? new VsphereAuthenticationException($"vCenter rejected the credentials of user {user.UserName} ({(int)e.StatusCode})", e.StatusCode)
            : VsphereRestClient.Failure(e, "session");

    // Event ids 4000-4019 (see WatcherEventIds.md). Never the password, never the session token.
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Logged in to vCenter as {UserName} through {Api}")]
    private static partial void LogLoggedIn(ILogger logger, string userName, string api);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "vCenter session expired (401 on {Path}): logging in again and replaying once")]
    private static partial void LogSessionExpired(ILogger logger, string path);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "vCenter has no /api/session: using the legacy /rest API")]
    private static partial void LogLegacyApi(ILogger logger);
}
