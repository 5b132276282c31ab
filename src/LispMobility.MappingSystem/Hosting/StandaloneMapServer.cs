using LispMobility.MappingSystem.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Hosting;

/// <summary>A Map-Server as a process of its own: the agent's <c>map-server</c> verb and the native Map-Server both run this.</summary>
public static class StandaloneMapServer
{
    /// <summary>Serves on the configured endpoints until <paramref name="cancellation"/> fires.</summary>
    public static async Task RunAsync(MapServerOptions options, ILoggerFactory loggers, TextWriter output, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(output);
        var server = new MapServer(options, logger: loggers.CreateLogger<MapServer>());
        await using var service = new MapServerService(server, options, loggers);
        await service.StartAsync(cancellation).ConfigureAwait(false);
        await output.WriteLineAsync($"map-server listening on {string.Join(", ", service.LocalEndpoints)}; Ctrl-C to stop").ConfigureAwait(false);
        await output.FlushAsync(cancellation).ConfigureAwait(false);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C or SIGTERM.
        }
    }
}
