using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;

namespace LispMobility.Xtr;

/// <summary>Something the xTR did that an operator (or the lab narration, or the audit) wants to see.</summary>
public abstract record XtrEvent(DateTimeOffset Time, EidPrefix Eid);

/// <summary>Every Map-Server acknowledged a host's registration.</summary>
public sealed record HostRegistered(DateTimeOffset Time, EidPrefix Eid, TimeSpan Elapsed, int Transmissions) : XtrEvent(Time, Eid);

/// <summary>A Map-Notify said another site now holds one of our EIDs: it is away (blackhole route).</summary>
public sealed record HostAway(DateTimeOffset Time, EidPrefix Eid, IReadOnlyList<Locator> NewRlocs, IPEndPoint MapServer) : XtrEvent(Time, Eid);

/// <summary>The /32 another site held is gone from the mapping system: the away state and its blackhole are removed.</summary>
public sealed record HostAwayCleared(DateTimeOffset Time, EidPrefix Eid) : XtrEvent(Time, Eid);

/// <summary>A host's /32 was withdrawn from every Map-Server.</summary>
public sealed record HostWithdrawn(DateTimeOffset Time, EidPrefix Eid) : XtrEvent(Time, Eid);

/// <summary>The map-cache took a new entry (or replaced one).</summary>
public sealed record MapCacheUpdated(DateTimeOffset Time, EidPrefix Eid, IReadOnlyList<Locator> Rlocs, bool SmrInvoked) : XtrEvent(Time, Eid);

/// <summary>An SMR was sent to a remote ITR.</summary>
public sealed record SmrSentToItr(DateTimeOffset Time, EidPrefix Eid, IPEndPoint Itr) : XtrEvent(Time, Eid);

/// <summary>An SMR arrived; a refresh through the mapping system follows.</summary>
public sealed record SmrReceived(DateTimeOffset Time, EidPrefix Eid, IPEndPoint From) : XtrEvent(Time, Eid);

/// <summary>
/// A remote locator went down or came back up; the map-cache entries naming it (<paramref name="Eid"/> is one) follow, and
/// so does the ITR's choice of RLOC.
/// </summary>
public sealed record RlocReachabilityChanged(DateTimeOffset Time, EidPrefix Eid, LispAddress Rloc, bool Reachable, string Reason) : XtrEvent(Time, Eid);

/// <summary>The route table refused a route change for good (after the retries a transient failure gets).</summary>
public sealed record RouteProgrammingFailed(DateTimeOffset Time, EidPrefix Eid, LispMobility.Platform.Routing.RouteChange Change, string Reason, int Attempts) : XtrEvent(Time, Eid);

/// <summary>Host state as the ETR sees it.</summary>
public enum HostState
{
    /// <summary>Registration sent, not yet acknowledged by every Map-Server.</summary>
    Registering,
    /// <summary>Every Map-Server acknowledged.</summary>
    Registered,
    /// <summary>The deadline passed without every acknowledgement; periodic registration keeps trying.</summary>
    Unconfirmed,
    /// <summary>Another site holds the EID; blackholed here.</summary>
    Away,
    /// <summary>Being withdrawn (TTL 0).</summary>
    Withdrawing,
}

/// <summary>A dynamic host as listed by the ETR.</summary>
public sealed record HostInfo(EidPrefix Eid, string Range, HostState State, DateTimeOffset Since);

/// <summary>The outcome of a host registration that every Map-Server acknowledged.</summary>
public sealed record RegistrationResult(EidPrefix Eid, TimeSpan Elapsed, int Transmissions);

/// <summary>A registration or withdrawal that did not complete, with which Map-Servers failed to answer.</summary>
public sealed class XtrRegistrationException(string message) : Exception(message);
