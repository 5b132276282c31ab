using System.Net;
using Microsoft.Extensions.Logging;

namespace LispMobility.Xtr;

// Event ids 2000-2099: xTR.
public sealed partial class XtrEngine
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Debug, Message = "Malformed {Kind} from {Source}: {Error}")]
    private partial void LogMalformed(string kind, IPEndPoint source, string error);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Unexpected message type {Type} from {Source}")]
    private partial void LogUnexpected(int type, IPEndPoint source);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Map-Notify from {Source} refused: {Reason}")]
    private partial void LogNotifyRejected(IPEndPoint source, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "{Eid} is now away (registered by another site; told by {MapServer}); blackhole route installed")]
    private partial void LogAway(string eid, IPEndPoint mapServer);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "{Eid} is no longer registered by any site; its state here ({State}) and route removed")]
    private partial void LogAwayCleared(string eid, string state);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "{Eid}: no acknowledgement from {MapServers} after {Transmissions} transmissions")]
    private partial void LogRegisterTimeout(string eid, string mapServers, int transmissions);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Error, Message = "xTR timer work failed in {Job}; the item was dropped and the rest of the tick ran ({Suppressed} more such faults since the last report)")]
    private partial void LogTimerFault(Exception exception, string job, long suppressed);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Error, Message = "xTR failed on a {Type} from {Source}; datagram dropped ({Suppressed} more such faults since the last report)")]
    private partial void LogReceiveFault(Exception exception, string type, IPEndPoint source, long suppressed);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Debug, Message = "{Kind} from {Source} names {Eid}, not an IP EID: dropped")]
    private partial void LogUnsupportedEid(string kind, IPEndPoint source, string eid);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "An event observer failed")]
    private partial void LogObserverFault(Exception exception);
}
