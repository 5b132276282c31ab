using System.Net;
using LispMobility.Lisp;
using LispMobility.MappingSystem.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Serving;

/// <summary>
/// What every part of the Map-Server reads and none owns: configuration, sites, time, nonces, counters, log, and the one
/// lock that guards the parts' tables (each part takes it itself, so MAC checks run outside it).
/// </summary>
internal sealed class ServerContext(MapServerOptions options, SiteRegistry sites, TimeProvider time, NonceSource nonces, ILogger logger)
{
    public object Gate { get; } = new();
    public MapServerOptions Options { get; } = options;
    public SiteRegistry Sites { get; } = sites;
    public TimeProvider Time { get; } = time;
    public NonceSource Nonces { get; } = nonces;
    public ILogger Logger { get; } = logger;
    public MapServerCounters Counters { get; } = new();

    /// <summary>
    /// Whether anyone observes the Map-Server's events: a standalone Map-Server has no observer, and the event of each new
    /// registration was an object per registration for nobody (issue #18).
    /// </summary>
    public bool Observed { get; set; }

    public void Reject(RejectReason reason, IPEndPoint source, string detail)
    {
        Counters.Reject(reason);
        MapServerLog.Rejected(Logger, reason, source, detail);
    }

    public IPEndPoint NotifyDestination(IPEndPoint registrant) =>
        Options.MapNotifyPort == 0 ? registrant : new IPEndPoint(registrant.Address, Options.MapNotifyPort);
}
