using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.VCenter;

// Event ids 1000-1019: the vSphere REST client (see WatcherEventIds.md). Never the password, never the session token.
public sealed partial class VsphereRestClient
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Logged in to vCenter as {UserName} through {Api}")]
    private static partial void LogLoggedIn(ILogger logger, string userName, string api);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "vCenter session expired (401 on {Path}): logging in again and replaying once")]
    private static partial void LogSessionExpired(ILogger logger, string path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "vCenter has no /api/session: using the legacy /rest API")]
    private static partial void LogLegacyApi(ILogger logger);
}
