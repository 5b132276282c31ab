using System.Net;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.DataPlane;

// Event ids 4200-4299: the data-plane watcher (see WatcherEventIds.md).
public sealed partial class DataPlaneWatcher
{
    [LoggerMessage(EventId = 4200, Level = LogLevel.Warning, Message = "The data-plane watcher is configured but not available on {Platform}: it needs Linux AF_PACKET sockets; it will report nothing")]
    private static partial void LogUnavailable(ILogger logger, string platform);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Capturing on {Interface} (ifindex {InterfaceIndex}, MAC {Mac})")]
    private static partial void LogCapturing(ILogger logger, string @interface, int interfaceIndex, string mac);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Error, Message = "Cannot capture on {Interface}: {Reason}; retrying in {Delay}")]
    private static partial void LogOpenFailed(ILogger logger, string @interface, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Error, Message = "Capture on {Interface} failed: {Reason}; reopening")]
    private static partial void LogCaptureFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Debug, Message = "Malformed frame on {Interface}: {Reason} (logged once per 1000)")]
    private static partial void LogMalformed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Warning, Message = "Sightings on {Interface} suppressed ({Verdict}): a storm on the segment (logged once per 1000)")]
    private static partial void LogSuppressed(ILogger logger, string @interface, string verdict);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Information, Message = "Discovered {Mac} by {Signal} with [{Addresses}] on {Interface}")]
    private static partial void LogDiscovered(ILogger logger, string mac, string signal, string addresses, string @interface);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Debug, Message = "Liveness probe for {Address} answered at attempt {Attempt}")]
    private static partial void LogProbeAnswered(ILogger logger, IPAddress address, int attempt);

    [LoggerMessage(EventId = 4208, Level = LogLevel.Information, Message = "Liveness probe for {Address}: no answer to {Attempts} probes")]
    private static partial void LogProbeSilent(ILogger logger, IPAddress address, int attempts);

    [LoggerMessage(EventId = 4209, Level = LogLevel.Warning, Message = "Liveness probe on {Interface} for {Address} not sent: {Reason}")]
    private static partial void LogProbeSendFailed(ILogger logger, string @interface, IPAddress address, string reason);

    [LoggerMessage(EventId = 4210, Level = LogLevel.Warning, Message = "The kernel refused the sniffer's filter of known senders on {Interface} ({Reason}): every IP packet the VMs send there is read, as before")]
    private static partial void LogFilterRefused(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 4211, Level = LogLevel.Information, Message = "The sniffer's kernel filter on {Interface} holds {Held} known senders; {Left} more do not fit, their IP packets are read")]
    private static partial void LogFilterFull(ILogger logger, string @interface, int held, int left);
}
