using System.Net;
using Microsoft.Extensions.Logging;

namespace LispMobility.Xtr.Roles;

// Event ids 2000-2099: xTR. One home for the roles' generated log methods.
internal static partial class XtrLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Debug, Message = "Malformed {Kind} from {Source}: {Error}")]
    public static partial void Malformed(ILogger logger, string kind, IPEndPoint source, string error);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Unexpected message type {Type} from {Source}")]
    public static partial void Unexpected(ILogger logger, int type, IPEndPoint source);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Map-Notify from {Source} refused: {Reason}")]
    public static partial void NotifyRejected(ILogger logger, IPEndPoint source, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "{Eid} is now away (registered by another site; told by {MapServer}); blackhole route installed")]
    public static partial void Away(ILogger logger, string eid, IPEndPoint mapServer);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "{Eid} is no longer registered by any site; its state here ({State}) and route removed")]
    public static partial void AwayCleared(ILogger logger, string eid, string state);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "{Eid}: no acknowledgement from {MapServers} after {Transmissions} transmissions")]
    public static partial void RegisterTimeout(ILogger logger, string eid, string mapServers, int transmissions);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Error, Message = "xTR timer work failed in {Job}; the item was dropped and the rest of the tick ran ({Suppressed} more such faults since the last report)")]
    public static partial void TimerFault(ILogger logger, Exception exception, string job, long suppressed);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Error, Message = "xTR failed on a {Type} from {Source}; datagram dropped ({Suppressed} more such faults since the last report)")]
    public static partial void ReceiveFault(ILogger logger, Exception exception, string type, IPEndPoint source, long suppressed);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Debug, Message = "{Kind} from {Source} names {Eid}, not an IP EID: dropped")]
    public static partial void UnsupportedEid(ILogger logger, string kind, IPEndPoint source, string eid);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Warning, Message = "Remote RLOC {Rloc} is down ({Reason}); traffic moves to the next locator")]
    public static partial void RlocDown(ILogger logger, string rloc, string reason);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Information, Message = "Remote RLOC {Rloc} is up again ({Reason})")]
    public static partial void RlocUp(ILogger logger, string rloc, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "An event observer failed")]
    public static partial void ObserverFault(ILogger logger, Exception exception);
}
