using System.Diagnostics.Metrics;
using System.Net;
using LispMobility.Agent.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace LispMobility.Agent.Hosting;

/// <summary>The local management API: <c>/healthz</c> and <c>/metrics</c> open, everything under <c>/api</c> behind the bearer token.</summary>
/// <remarks>
/// Call <see cref="AddManagementApi"/> on the builder, then <see cref="MapManagementApi"/> on the built app; add your own
/// endpoints to the returned <c>/api</c> group (or any route under <c>/api</c>: the token check is a middleware on the
/// path, so an endpoint mapped elsewhere in the code is protected too, and an unknown <c>/api</c> path answers 401, not 404).
/// </remarks>
public static partial class ManagementApi
{
    /// <summary>The path prefix that requires the bearer token.</summary>
    public const string ApiPrefix = "/api";

    /// <summary>The management API's meter.</summary>
    public const string MeterName = "LispMobility.ManagementApi";

    /// <summary>Binds Kestrel to the configured address and port and registers the token, metrics and health checks.</summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="options">Where to listen.</param>
    /// <param name="token">The bearer token <c>/api</c> requires.</param>
    /// <param name="metrics">Where metrics go besides <c>/metrics</c>; none by default.</param>
    public static WebApplicationBuilder AddManagementApi(this WebApplicationBuilder builder, ManagementApiOptions options, ApiToken token,
        MetricsOptions? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(token);
        var address = IPAddress.Parse(options.BindAddress);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, options.Port));
        builder.Services.AddSingleton(token);
        builder.Services.AddAgentMetrics(metrics);
        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary>Maps <c>/healthz</c>, <c>/metrics</c> and the token check; returns the <c>/api</c> group for more endpoints.</summary>
    public static RouteGroupBuilder MapManagementApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var token = app.Services.GetRequiredService<ApiToken>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ManagementApi).FullName!);
        var rejected = app.Services.GetRequiredService<IMeterFactory>().Create(MeterName).CreateCounter<long>(
            "lispmobility_management_api_unauthorized_total", description: "Management API requests refused for a missing or wrong bearer token.");

        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(ApiPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var failure = Authenticate(context.Request, token);
                if (failure is not null)
                {
                    rejected.Add(1, new KeyValuePair<string, object?>("reason", failure));
                    LogUnauthorized(logger, context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                        context.Request.Method, context.Request.Path.Value ?? "", failure);
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    // RFC 6750 §3: say which scheme is wanted, and whether the presented token was the problem.
                    context.Response.Headers.WWWAuthenticate = failure == "invalid_token"
                        ? "Bearer realm=\"lispmobility\", error=\"invalid_token\""
                        : "Bearer realm=\"lispmobility\"";
                    return;
                }
            }
            await next(context).ConfigureAwait(false);
        });

        app.MapHealthChecks("/healthz", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        // OpenTelemetry's Prometheus exporter: the text format 0.0.4, or OpenMetrics when the scraper asks for it.
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app.MapGroup(ApiPrefix);
    }

    // The status first (what a probe reads), then why and each check's data, one "key: value" a line: a person reads this.
    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var text = new System.Text.StringBuilder(report.Status.ToString());
        foreach (var (name, entry) in report.Entries)
        {
            if (entry.Description is { Length: > 0 } why) text.Append('\n').Append(name).Append(": ").Append(why);
            foreach (var (key, value) in entry.Data) text.Append('\n').Append(key).Append(": ").Append(value);
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }

    /// <summary>An <see cref="HttpClient"/> for the CLI verbs: base address from the options, the bearer token attached.</summary>
    /// <remarks>A wildcard bind address (0.0.0.0, ::) is reached through loopback of the same family.</remarks>
    public static HttpClient CreateClient(ManagementApiOptions options, ApiToken token, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(token);
        var address = IPAddress.Parse(options.BindAddress);
        if (address.Equals(IPAddress.Any)) address = IPAddress.Loopback;
        if (address.Equals(IPAddress.IPv6Any)) address = IPAddress.IPv6Loopback;
        var client = new HttpClient
        {
            BaseAddress = new UriBuilder(Uri.UriSchemeHttp, address.ToString(), options.Port).Uri,
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
        };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Value);
        return client;
    }

    // The failure reason (a metric label and a log field), or null when the request carries the token.
    internal static string? Authenticate(HttpRequest request, ApiToken token)
    {
        var headers = request.Headers.Authorization;
        if (headers.Count == 0) return "missing";
        if (headers.Count > 1) return "malformed";
        var header = headers[0] ?? "";
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return "wrong_scheme";
        return token.Matches(header.AsSpan(scheme.Length).Trim()) ? null : "invalid_token";
    }

    [LoggerMessage(EventId = Logging.AgentLogEvents.ManagementApiUnauthorized, Level = LogLevel.Warning,
        Message = "Management API refused {Method} {Path} from {RemoteAddress}: {Reason}")]
    private static partial void LogUnauthorized(ILogger logger, string remoteAddress, string method, string path, string reason);
}
