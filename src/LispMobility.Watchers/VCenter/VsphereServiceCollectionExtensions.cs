using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using Refit;

namespace LispMobility.Watchers.VCenter;

/// <summary>What <see cref="VsphereServiceCollectionExtensions.AddVsphereClients"/> needs to know of one vCenter.</summary>
/// <param name="BaseAddress">The vCenter's base address.</param>
/// <param name="Credentials">Resolves the credentials, on first use.</param>
/// <param name="Logger">Where the session's lines (1000-1019) go.</param>
/// <param name="RequestTimeout">One attempt's limit.</param>
/// <param name="PrimaryHandler">The transport: <see cref="PinnedCertificate.CreateHandler"/> (the pinned certificate as the server-certificate callback).</param>
/// <param name="Time">The clock of the retry delays and the circuit breaker.</param>
public sealed record VsphereClientOptions(Uri BaseAddress, Func<VCenterCredentials> Credentials, ILogger Logger, TimeSpan RequestTimeout,
    Func<HttpMessageHandler> PrimaryHandler, TimeProvider? Time = null);

/// <summary>
/// Registers the vCenter clients on a service collection: the Refit-generated REST client (resilience handler, then
/// <see cref="VsphereSessionHandler"/>, then the pinned-certificate primary handler), the session client it logs in
/// with, a plain client for the SOAP change feed, and <see cref="VsphereRestClient"/> as <see cref="IVsphereApi"/>.
/// </summary>
public static class VsphereServiceCollectionExtensions
{
    /// <summary>The named HttpClient of the Refit REST client.</summary>
    public const string RestClient = "vsphere-rest";

    /// <summary>The named HttpClient of the session client.</summary>
    public const string SessionClient = "vsphere-session";

    /// <summary>The named HttpClient of the SOAP change feed (<see cref="VimChangeFeed"/>).</summary>
    public const string SoapClient = "vsphere-soap";

    /// <summary>Registers everything one vCenter needs; see the class summary.</summary>
    public static IServiceCollection AddVsphereClients(this IServiceCollection services, VsphereClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var time = options.Time ?? TimeProvider.System;
        services.AddSingleton(time);
        services.AddSingleton(_ => new VsphereSession(options.Credentials, options.Logger));
        services.AddTransient<VsphereSessionHandler>();

        void Http(HttpClient client)
        {
            client.BaseAddress = options.BaseAddress;
            client.Timeout = Timeout.InfiniteTimeSpan; // the resilience handler's timeout (per attempt) and the callers' tokens rule
        }

        services.AddRefitGeneratedClient<IVsphereSessionApi>(VsphereJson.Default, _ => Settings(), SessionClient)
            .ConfigureHttpClient(Http)
            .ConfigurePrimaryHttpMessageHandler(options.PrimaryHandler);

        var rest = services.AddRefitGeneratedClient<IVsphereRestApi>(VsphereJson.Default, _ => Settings(), RestClient)
            .ConfigureHttpClient(Http)
            .ConfigurePrimaryHttpMessageHandler(options.PrimaryHandler);
        rest.AddResilienceHandler("vsphere", builder => Resilience(builder, options.RequestTimeout, time));
        rest.AddHttpMessageHandler<VsphereSessionHandler>();

        services.AddHttpClient(SoapClient).ConfigureHttpClient(Http).ConfigurePrimaryHttpMessageHandler(options.PrimaryHandler);
        services.AddSingleton<VsphereRestClient>();
        services.AddSingleton<IVsphereApi>(sp => sp.GetRequiredService<VsphereRestClient>());
        return services;
    }

    // Transport failures reach the caller as they are (HttpRequestException, Polly's timeout and broken circuit,
    // the session handler's authentication failure), not wrapped in Refit's ApiRequestException: the watcher tells an
    // outage from rejected credentials by their type.
    private static RefitSettings Settings()
    {
        var settings = RefitSettings.ForJsonContext(VsphereJson.Default);
        settings.TransportExceptionFactory = (_, exception, _) => exception;
        return settings;
    }

    // Retry twice (200 ms, exponential, jittered), a circuit breaker, and a timeout per attempt: what may cure itself is
    // no answer, a timeout, 408, 429 and 5xx, except a 503 on guest networking (the guest has no VMware Tools: a fact,
    // answered as null and neither retried nor counted against vCenter). A rejected login is not retried.
    private static void Resilience(ResiliencePipelineBuilder<HttpResponseMessage> builder, TimeSpan requestTimeout, TimeProvider time)
    {
        builder.TimeProvider = time;
        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(IsTransient);
        builder
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                FailureRatio = 0.8,
                MinimumThroughput = 6,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(5),
            })
            .AddTimeout(requestTimeout);
    }

    private static bool IsTransient(HttpResponseMessage response) =>
        response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        || ((int)response.StatusCode >= 500
            && !(response.StatusCode == HttpStatusCode.ServiceUnavailable
                 && response.RequestMessage?.RequestUri?.AbsolutePath.EndsWith("/guest/networking/interfaces", StringComparison.Ordinal) == true));
}
