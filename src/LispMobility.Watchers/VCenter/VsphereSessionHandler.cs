using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// The session and the API generation, in the Refit client's handler chain (inside the resilience handler, so a retry
/// goes through here again): logs in when there is no session yet, adds <c>vmware-api-session-id</c>, and on a 401 logs
/// in once more and replays the request (a second 401 is an authentication failure, not retried). On a vCenter with
/// only the legacy API (found at login) it rewrites <c>/api/X?f=v</c> to <c>/rest/X?filter.f=v</c> and unwraps the
/// <c>{"value": …}</c> of a successful answer, so the Refit interface knows one generation.
/// </summary>
public sealed class VsphereSessionHandler(VsphereSession session, IVsphereSessionApi sessionApi) : DelegatingHandler
{
    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var token = session.Token ?? await session.LoginAsync(sessionApi, null, cancellationToken).ConfigureAwait(false);
        var response = await Send(request, token, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            response.Dispose();
            var path = request.RequestUri?.AbsolutePath ?? "";
            session.SessionExpired(path);
            token = await session.LoginAsync(sessionApi, token, cancellationToken).ConfigureAwait(false);
            response = await Send(request, token, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                response.Dispose();
                throw new VsphereAuthenticationException(
                    $"vCenter answered 401 to {path} right after a fresh login of user {session.Credentials.UserName}", HttpStatusCode.Unauthorized);
            }
        }
        return session.Legacy ? await Unwrap(response, cancellationToken).ConfigureAwait(false) : response;
    }

    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, string token, CancellationToken ct)
    {
        request.Headers.Remove(VsphereSession.Header);
        request.Headers.Add(VsphereSession.Header, token);
        if (session.Legacy && request.RequestUri is { } uri && ToLegacy(uri) is { } legacy) request.RequestUri = legacy;
        return await base.SendAsync(request, ct).ConfigureAwait(false);
    }

    /// <summary><c>…/api/X?f=v</c> → <c>…/rest/X?filter.f=v</c>; null when the address is not an <c>/api</c> one.</summary>
    internal static Uri? ToLegacy(Uri uri)
    {
        var path = uri.AbsolutePath;
        var at = path.IndexOf("/api/", StringComparison.Ordinal);
        if (at < 0) return null;
        var builder = new UriBuilder(uri) { Path = path[..at] + "/rest/" + path[(at + 5)..] };
        if (uri.Query.Length > 1)
        {
            builder.Query = string.Join('&', uri.Query[1..].Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.StartsWith("filter.", StringComparison.Ordinal) ? p : "filter." + p));
        }
        return builder.Uri;
    }

    // A successful legacy answer is {"value": X}: hand X on, with the original content headers.
    private static async Task<HttpResponseMessage> Unwrap(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode || response.Content is null || response.Content.Headers.ContentType?.MediaType is not "application/json")
            return response;
        var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        byte[] inner;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("value", out var value)) return Replace(response, body);
            inner = Encoding.UTF8.GetBytes(value.GetRawText());
        }
        catch (JsonException)
        {
            return Replace(response, body); // not JSON after all: the Refit client will say so
        }
        return Replace(response, inner);
    }

    private static HttpResponseMessage Replace(HttpResponseMessage response, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = response.Content.Headers.ContentType is { } type ? MediaTypeHeaderValue.Parse(type.ToString()) : null;
        response.Content.Dispose();
        response.Content = content;
        return response;
    }
}
