using System.Net;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>
/// One registrant as its registrations see it: identity, address and site key, shared by all of them (an xTR registers
/// thousands of EIDs; a copy of these in each registration cost ≈ 100 bytes apiece, issue #18). Immutable: a registrant
/// that comes from another address or with another key gets a new one, and its registrations move to it as they refresh.
/// </summary>
internal sealed class Registrant(RegistrantId id, IPEndPoint endPoint, SiteKey key)
{
    public RegistrantId Id { get; } = id;

    public IPEndPoint EndPoint { get; } = endPoint;

    public SiteKey Key { get; } = key;

    /// <summary>The locator set of its last registration: the next one with an equal set shares this array.</summary>
    public Locator[]? LastLocators { get; set; }
}
