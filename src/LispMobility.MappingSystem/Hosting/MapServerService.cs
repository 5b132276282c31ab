using System.Net;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Platform;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Hosting;

/// <summary>Runs a <see cref="MapServer"/> on its configured UDP endpoints as a hosted service (embedded or standalone).</summary>
public sealed class MapServerService(MapServer server, MapServerOptions options, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private UdpDatagramTransport? _transport;

    /// <summary>The engine.</summary>
    public MapServer Server => server;

    /// <summary>The bound endpoints, once started.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints => _transport?.LocalEndpoints ?? [];

    /// <summary>The transport, once started (datagram counters).</summary>
    public UdpDatagramTransport? Transport => _transport;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endpoints = options.EffectiveListen.Select(IPEndPoint.Parse).ToList();
        _transport = new UdpDatagramTransport(server, endpoints, loggers.CreateLogger<UdpDatagramTransport>(), receiveLoopsPerSocket: options.ReceiveLoops > 0 ? options.ReceiveLoops : Environment.ProcessorCount);
        _transport.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_transport is not null) await _transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_transport is not null) await _transport.DisposeAsync().ConfigureAwait(false);
    }
}
