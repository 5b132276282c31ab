using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.VCenter;

// Event ids 4040-4059: the vCenter watcher (see WatcherEventIds.md). Never the password, never a session token.
public sealed partial class VCenterWatcher
{
    [LoggerMessage(EventId = 4040, Level = LogLevel.Information, Message = "vCenter VM {VmName} ({VmId}): {Change} on {Host} (site {Site}) from {PreviousHost} (site {PreviousSite}) with [{Addresses}], via {Via}")]
    private static partial void LogReported(ILogger logger, string vmName, string vmId, string change, string host, string? site, string? previousHost, string? previousSite, string addresses, string via);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning, Message = "vCenter {VCenter} is unreachable: {Reason}. Nothing is reported until it answers again; retrying")]
    private static partial void LogUnreachable(ILogger logger, string vCenter, string reason);

    [LoggerMessage(EventId = 4042, Level = LogLevel.Debug, Message = "vCenter {VCenter} still unreachable: {Reason}")]
    private static partial void LogStillUnreachable(ILogger logger, string vCenter, string reason);

    [LoggerMessage(EventId = 4043, Level = LogLevel.Information, Message = "vCenter {VCenter} is reachable again after {Outage}; reconciled")]
    private static partial void LogReachableAgain(ILogger logger, string vCenter, TimeSpan outage);

    [LoggerMessage(EventId = 4044, Level = LogLevel.Error, Message = "vCenter {VCenter} rejected the credentials: {Reason}. Fix the user name or password; retrying")]
    private static partial void LogCredentialsRejected(ILogger logger, string vCenter, string reason);

    [LoggerMessage(EventId = 4045, Level = LogLevel.Information, Message = "vCenter change feed session lost ({Reason}): logging in again and recreating the filter")]
    private static partial void LogSessionLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 4046, Level = LogLevel.Debug, Message = "vCenter reconciliation: {Hosts} hosts, {Vms} VMs")]
    private static partial void LogReconciled(ILogger logger, int hosts, int vms);
}
