using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;

namespace LispMobility.MappingSystem;

/// <summary>Something an operator (or the lab's narration) wants to see happen in the mapping system.</summary>
public abstract record MapServerEvent(DateTimeOffset Time, EidPrefix Eid);

/// <summary>A new registration (not a refresh).</summary>
public sealed record EidRegistered(DateTimeOffset Time, EidPrefix Eid, string Site, IReadOnlyList<Locator> Rlocs, IPEndPoint Registrant) : MapServerEvent(Time, Eid);

/// <summary>An EID now registered from another site or ETR; the previous registrants are being notified.</summary>
public sealed record EidMoved(DateTimeOffset Time, EidPrefix Eid, string FromSite, string ToSite, IReadOnlyList<Locator> Rlocs, IReadOnlyList<IPEndPoint> NotifiedRegistrants) : MapServerEvent(Time, Eid);

/// <summary>A registration withdrawn (TTL 0) or lapsed.</summary>
public sealed record EidUnregistered(DateTimeOffset Time, EidPrefix Eid, string Site, bool Expired) : MapServerEvent(Time, Eid);

/// <summary>A previous registrant acknowledged the Map-Notify about a move.</summary>
public sealed record MoveNotifyAcknowledged(DateTimeOffset Time, EidPrefix Eid, IPEndPoint Registrant, int Transmissions) : MapServerEvent(Time, Eid);

/// <summary>A previous registrant never acknowledged.</summary>
public sealed record MoveNotifyGaveUp(DateTimeOffset Time, EidPrefix Eid, IPEndPoint Registrant, int Transmissions) : MapServerEvent(Time, Eid);

/// <summary>An ITR was solicited to refresh its map-cache for an EID.</summary>
public sealed record SmrSent(DateTimeOffset Time, EidPrefix Eid, IPEndPoint Itr) : MapServerEvent(Time, Eid);
