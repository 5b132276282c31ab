using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.VCenter;

// Event ids 4020-4039: the vim25 change feed (see WatcherEventIds.md).
public sealed partial class VimChangeFeed
{
    [LoggerMessage(EventId = 4020, Level = LogLevel.Information, Message = "vCenter change feed open (PropertyCollector filter on VirtualMachine) as {UserName}")]
    private static partial void LogFeedOpened(ILogger logger, string userName);
}
