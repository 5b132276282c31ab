using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LispMobility.TestSupport.Fakes;

/// <summary>One request a fake device received, as it arrived on the wire.</summary>
public sealed record RecordedRequest(string Method, string Path, string? ContentType, string? Accept, string? Authorization, string Body);

/// <summary>
/// An HTTPS device on 127.0.0.1 (Kestrel, port 0, self-signed certificate) that checks Basic auth, records every
/// request, and can be told to fail or stall the next requests to exercise retries and timeouts.
/// </summary>
public abstract class FakeDeviceServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<Func<HttpContext, Task<bool>>> _faults = new();
    private WebApplication? _app;

    /// <summary>Creates the server; call <see cref="StartAsync"/>.</summary>
    protected FakeDeviceServer(string username, string password)
    {
        Username = username;
        Password = password;
        Certificate = SelfSignedCertificate.Create();
    }

    /// <summary>The only accepted username.</summary>
    public string Username { get; }

    /// <summary>The only accepted password.</summary>
    public string Password { get; }

    /// <summary>The server certificate (self-signed, so default TLS validation rejects it).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary><c>https://127.0.0.1:PORT/</c> once started.</summary>
    public Uri BaseAddress { get; private set; } = new("https://127.0.0.1/");

    /// <summary>Every request received, in order (including refused ones).</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Starts listening.</summary>
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(Certificate)));
        _app = builder.Build();
        _app.Run(HandleAsync);
        await _app.StartAsync().ConfigureAwait(false);
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
    }

    /// <summary>The next <paramref name="count"/> requests get <paramref name="status"/> with an empty body.</summary>
    public void FailNext(int count, HttpStatusCode status)
    {
        for (var i = 0; i < count; i++)
            _faults.Enqueue(context =>
            {
                context.Response.StatusCode = (int)status;
                return Task.FromResult(true);
            });
    }

    /// <summary>The next <paramref name="count"/> requests are held for <paramref name="delay"/> and then dropped.</summary>
    public void StallNext(int count, TimeSpan delay)
    {
        for (var i = 0; i < count; i++)
            _faults.Enqueue(async context =>
            {
                try { await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
                context.Abort();
                return true;
            });
    }

    /// <summary>Serves one authenticated request; the body has been read and recorded already.</summary>
    protected abstract Task ServeAsync(HttpContext context, RecordedRequest request);

    /// <summary>Writes a reply with a content type and body.</summary>
    protected static async Task ReplyAsync(HttpContext context, HttpStatusCode status, string contentType, string body)
    {
        context.Response.StatusCode = (int)status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body).ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync().ConfigureAwait(false);
        var request = new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
            context.Request.ContentType, context.Request.Headers.Accept.ToString(), context.Request.Headers.Authorization.ToString(), body);
        _requests.Enqueue(request);
        if (_faults.TryDequeue(out var fault) && await fault(context).ConfigureAwait(false)) return;
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));
        if (request.Authorization != expected)
        {
            await RefuseAsync(context).ConfigureAwait(false);
            return;
        }
        await ServeAsync(context, request).ConfigureAwait(false);
    }

    /// <summary>Answers a request whose credentials are wrong, the way the device does.</summary>
    protected virtual Task RefuseAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"device\"";
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync().ConfigureAwait(false);
        Certificate.Dispose();
        GC.SuppressFinalize(this);
    }
}
