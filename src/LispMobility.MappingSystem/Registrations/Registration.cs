using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>One ETR's registration of one EID-prefix.</summary>
internal sealed class EtrRegistration
{
    public required RegistrantId Id { get; init; }
    public required IPEndPoint Registrant { get; set; }
    public required Locator[] Locators { get; set; }
    public required SiteKey Key { get; set; }
    public uint Ttl { get; set; }
    public ushort MapVersion { get; set; }
    public bool ProxyReply { get; set; }
    public bool Merge { get; set; }
    public DateTimeOffset LastRegistered { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public bool Removed { get; set; }
    public RegisteredEid? Owner { get; set; }
}

/// <summary>An EID-prefix with the ETRs of one site that registered it.</summary>
internal sealed class RegisteredEid(EidPrefix prefix, Site site)
{
    private int _roundRobin;

    public EidPrefix Prefix { get; } = prefix;
    public Site Site { get; set; } = site;
    public List<EtrRegistration> Etrs { get; } = new(1);

    /// <summary>
    /// The registrants told that this EID moved away from them (they hold it away): when the EID-prefix is withdrawn or
    /// expires they are told it is gone, or they would blackhole it for good. Null until the first move.
    /// </summary>
    public List<(IPEndPoint Destination, SiteKey Key)>? AwayAt { get; set; }

    public bool ProxyReply => Etrs.Exists(e => e.ProxyReply);

    public uint Ttl => Etrs.Count == 0 ? 0 : Etrs.Min(e => e.Ttl);

    /// <summary>The merged locator set of every ETR (RFC 9301 §8.2, merge semantics), duplicates removed.</summary>
    public Locator[] MergedLocators()
    {
        if (Etrs.Count == 1) return Etrs[0].Locators;
        var seen = new HashSet<LispAddress>();
        var merged = new List<Locator>();
        foreach (var e in Etrs)
        {
            foreach (var l in e.Locators)
            {
                if (seen.Add(l.Address)) merged.Add(l);
            }
        }

        return merged.ToArray();
    }

    public EtrRegistration? NextEtr()
    {
        if (Etrs.Count == 0) return null;
        var i = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)Etrs.Count);
        return Etrs[i];
    }
}

/// <summary>A registration as operators list it.</summary>
public sealed record RegistrationInfo(
    EidPrefix Eid, string Site, IReadOnlyList<Locator> Rlocs, DateTimeOffset LastRegistered, DateTimeOffset Expires,
    IPEndPoint Registrant, UInt128? XtrId, bool ProxyReply, uint Ttl);
