using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.HyperV;

// Event ids 4100-4199: the Hyper-V watcher (see WatcherEventIds.md). Never a password.
public sealed partial class HyperVWatcher
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning, Message = "Hyper-V host {Host} does not answer over CIM ({ErrorType}: {Reason}); nothing is reported from it until it does; retrying")]
    private static partial void LogHostUnreachable(ILogger logger, string host, string errorType, string reason);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Hyper-V watcher following {Host} with {Count} virtual machines")]
    private static partial void LogStarted(ILogger logger, string host, int count);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Could not read Hyper-V VM {VmId} on {Host}: {ErrorType}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string vmId, string host, string errorType, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Hyper-V VM {VmName} ({VmId}): {Change} on {Host} (site {Site}, from {PreviousHost}) with [{Addresses}], after {CimChange}")]
    private static partial void LogReported(ILogger logger, string vmName, string vmId, string change, string host, string? site, string? previousHost, string addresses, string cimChange);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Hyper-V VM {VmName} ({VmId}) started as a test failover replica: not a move, not reported")]
    private static partial void LogTestFailoverIgnored(ILogger logger, string vmName, string vmId);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Hyper-V host {Host} answers again; swept")]
    private static partial void LogHostReachable(ILogger logger, string host);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Debug, Message = "Hyper-V VM {VmName} on {Host} is migrating (OperationalStatus 32774)")]
    private static partial void LogMigrating(ILogger logger, string vmName, string host);
}
