using System.Net;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Serving;

// Event ids 1000-1099: Map-Server. Events of one registration (registered, withdrawn, expired) are Debug: a Map-Server takes
// tens of thousands a second, and formatting and writing a line each cost more than the registration itself (issue #18).
/// <summary>The Map-Server's log lines, shared by its parts (they log under the <see cref="MapServer"/> category).</summary>
internal static partial class MapServerLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Malformed {Kind} from {Source}: {Error}")]
    public static partial void Malformed(ILogger logger, string kind, IPEndPoint source, string error);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Unexpected message type {Type} from {Source}")]
    public static partial void Unexpected(ILogger logger, int type, IPEndPoint source);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Rejected ({Reason}) from {Source}: {Detail}")]
    public static partial void Rejected(ILogger logger, RejectReason reason, IPEndPoint source, string detail);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Registered {Eid} for site {Site} from {Registrant}")]
    public static partial void Registered(ILogger logger, string eid, string site, IPEndPoint registrant);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "{Eid} {How}: site {Site}")]
    private static partial void UnregisteredCore(ILogger logger, string eid, string how, string site);

    public static void Unregistered(ILogger logger, string eid, string site, bool expired) => UnregisteredCore(logger, eid, expired ? "expired" : "withdrawn", site);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "{Eid} moved from site {From} to site {To}; Map-Notify sent to {Count} previous registrant(s)")]
    public static partial void Moved(ILogger logger, string eid, string from, string to, int count);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "{Eid}: {Registrant} acknowledged the move after {Transmissions} transmission(s)")]
    public static partial void NotifyAcked(ILogger logger, string eid, IPEndPoint registrant, int transmissions);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "{Eid}: {Registrant} never acknowledged the Map-Notify about the move ({Transmissions} transmissions); giving up")]
    public static partial void NotifyGaveUp(ILogger logger, string eid, IPEndPoint registrant, int transmissions);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "An event observer failed")]
    public static partial void ObserverFault(ILogger logger, Exception exception);
}
