using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.HyperV;

// Event ids 1100-1199: the Hyper-V watcher (see WatcherEventIds.md).
public sealed partial class HyperVWatcher
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "The Hyper-V watcher is configured but not available on {Platform}: it needs Windows WMI (root\\virtualization\\v2); it will report nothing")]
    private static partial void LogUnavailable(ILogger logger, string platform);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Hyper-V watcher started with {Count} virtual machines on this host")]
    private static partial void LogStarted(ILogger logger, int count);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Could not read Hyper-V VM {VmId}: {ErrorType}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string vmId, string errorType, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Hyper-V VM {VmName} ({VmId}): {Change} on {Host} (site {Site}, from {PreviousHost}) with [{Addresses}], after {CimChange}")]
    private static partial void LogReported(ILogger logger, string vmName, string vmId, string change, string host, string? site, string? previousHost, string addresses, string cimChange);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Hyper-V VM {VmName} ({VmId}) started as a test failover replica: not a move, not reported")]
    private static partial void LogTestFailoverIgnored(ILogger logger, string vmName, string vmId);
}
