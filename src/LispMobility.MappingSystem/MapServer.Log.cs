using System.Net;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem;

// Event ids 1000-1099: Map-Server. Events of one registration (registered, withdrawn, expired) are Debug: a Map-Server takes
// tens of thousands a second, and formatting and writing a line each cost more than the registration itself (issue #18).
public sealed partial class MapServer
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "Malformed {Kind} from {Source}: {Error}")]
    private partial void LogMalformed(string kind, IPEndPoint source, string error);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Unexpected message type {Type} from {Source}")]
    private partial void LogUnexpected(int type, IPEndPoint source);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Rejected ({Reason}) from {Source}: {Detail}")]
    private partial void LogRejected(RejectReason reason, IPEndPoint source, string detail);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Registered {Eid} for site {Site} from {Registrant}")]
    private partial void LogRegistered(string eid, string site, IPEndPoint registrant);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "{Eid} {How}: site {Site}")]
    private partial void LogUnregisteredCore(string eid, string how, string site);

    private void LogUnregistered(string eid, string site, bool expired) => LogUnregisteredCore(eid, expired ? "expired" : "withdrawn", site);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "{Eid} moved from site {From} to site {To}; Map-Notify sent to {Count} previous registrant(s)")]
    private partial void LogMoved(string eid, string from, string to, int count);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "{Eid}: {Registrant} acknowledged the move after {Transmissions} transmission(s)")]
    private partial void LogNotifyAcked(string eid, IPEndPoint registrant, int transmissions);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "{Eid}: {Registrant} never acknowledged the Map-Notify about the move ({Transmissions} transmissions); giving up")]
    private partial void LogNotifyGaveUp(string eid, IPEndPoint registrant, int transmissions);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "An event observer failed")]
    private partial void LogObserverFault(Exception exception);
}
