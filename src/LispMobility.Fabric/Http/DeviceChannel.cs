using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text;
using LispMobility.Fabric.Credentials;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace LispMobility.Fabric.Http;

/// <summary>One HTTP request to a device; <paramref name="Body"/> is sent byte for byte as the plan showed it.</summary>
internal sealed record DeviceRequest(HttpMethod Method, string Path, string? Body, string? ContentType, string Accept, string Operation)
{
    /// <summary>Decides whether a non-2xx reply is still an answer to parse (RESTCONF 404 = absent), not a failure.</summary>
    public Func<DeviceReply, bool>? IsAnswer { get; init; }
}

/// <summary>A device's answer: status, body and content type.</summary>
internal sealed record DeviceReply(HttpStatusCode Status, string Body, string? ContentType);

/// <summary>
/// The HTTPS channel to one switch: Basic auth from the credential source, the TLS policy of the options,
/// a Polly pipeline (per-attempt timeout, jittered retry on transient failures only), and errors turned into
/// <see cref="GatewayException"/> with the device's own text.
/// </summary>
internal sealed partial class DeviceChannel : IDisposable
{
    private readonly HttpDeviceOptions _options;
    private readonly string _configPath;
    private readonly HttpClient _client;
    private readonly ResiliencePipeline _pipeline;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public DeviceChannel(HttpDeviceOptions options, string configPath, HttpMessageHandler? handler, ILogger logger, TimeProvider time)
    {
        options.ThrowIfInvalid(configPath);
        _options = options;
        _configPath = configPath;
        _logger = logger;
        _time = time;
        _client = new HttpClient(handler ?? DeviceTls.CreateHandler(options), disposeHandler: handler is null)
        {
            BaseAddress = options.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan, // the pipeline owns deadlines
        };
        _pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetryAttempts),
                Delay = options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(
                    options.MaxRetryAttempts > 0 && args.Outcome.Exception is TimeoutRejectedException or GatewayException { IsTransient: true }),
                OnRetry = args =>
                {
                    LogRetry(_logger, Device, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message ?? "unknown");
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(options.RequestTimeout)
            .Build();
    }

    public string Device => _options.DeviceName;

    public Uri BaseAddress => _options.BaseAddress!;

    public async Task<DeviceReply> SendAsync(DeviceRequest request, Func<DeviceReply, string?> deviceError, CancellationToken ct)
    {
        var credentials = ReadCredentials(request.Operation);
        try
        {
            return await _pipeline.ExecuteAsync(
                async token => await SendOnceAsync(request, credentials, deviceError, token).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException e)
        {
            LogFailed(_logger, Device, request.Operation, "timeout");
            throw new GatewayException(Device, request.Operation, $"no answer within {_options.RequestTimeout.TotalSeconds:0.###} s", true, e);
        }
        catch (GatewayException e)
        {
            LogFailed(_logger, Device, request.Operation, e.DeviceMessage);
            throw;
        }
    }

    private DeviceCredentials ReadCredentials(string operation)
    {
        try
        {
            return CredentialReader.Read(_options.Credentials!, $"{_configPath}.Credentials");
        }
        catch (CredentialException e)
        {
            throw new GatewayException(Device, operation, e.Message, false, e);
        }
    }

    private async Task<DeviceReply> SendOnceAsync(DeviceRequest request, DeviceCredentials credentials, Func<DeviceReply, string?> deviceError, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(request.Method, request.Path);
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.ToBasicParameter());
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(request.Accept));
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(request.Body));
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(request.ContentType ?? "application/json");
        }
        var started = _time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(message, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (Find<AuthenticationException>(e) is { } tls)
        {
            throw new GatewayException(Device, request.Operation,
                $"TLS: the device certificate was not accepted ({tls.Message}); install its CA or set PinnedCertificateSha256", false, e);
        }
        catch (HttpRequestException e)
        {
            throw new GatewayException(Device, request.Operation, $"connection failed: {e.Message}", true, e);
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            var reply = new DeviceReply(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType);
            LogExchange(_logger, Device, request.Method.Method, request.Path, (int)response.StatusCode, _time.GetElapsedTime(started).TotalMilliseconds);
            if (response.IsSuccessStatusCode)
            {
                var inBody = deviceError(reply);
                return inBody is null ? reply : throw new GatewayException(Device, request.Operation, inBody);
            }
            if (request.IsAnswer?.Invoke(reply) == true) return reply;
            var status = (int)response.StatusCode;
            var text = deviceError(reply) ?? $"HTTP {status} {response.ReasonPhrase}: {Truncate(body)}";
            throw response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    new GatewayException(Device, request.Operation, $"authentication refused (HTTP {status}) for the configured credentials: {text}"),
                HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway
                    or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout =>
                    new GatewayException(Device, request.Operation, $"HTTP {status}: {text}", true),
                _ => new GatewayException(Device, request.Operation, text),
            };
        }
    }

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T found) return found;
        return null;
    }

    private static string Truncate(string body) => body.Length <= 300 ? body : body[..300] + "…";

    public void Dispose() => _client.Dispose();

    [LoggerMessage(EventId = 6001, Level = LogLevel.Debug, Message = "{Device} {Method} {Path} answered {Status} in {ElapsedMs} ms")]
    private static partial void LogExchange(ILogger logger, string device, string method, string path, int status, double elapsedMs);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "{Device}: retry {Attempt} in {DelayMs} ms after {Reason}")]
    private static partial void LogRetry(ILogger logger, string device, int attempt, double delayMs, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Error, Message = "{Device}: {Operation} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string device, string operation, string reason);
}
