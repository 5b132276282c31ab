using System.Text;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;

namespace LispMobility.MappingSystem.Configuration;

/// <summary>A configured site, compiled for lookups.</summary>
public sealed class Site
{
    internal Site(SiteOptions options)
    {
        Name = options.Name;
        _prefixes = options.EidPrefixes.Select(p => new SitePrefix(EidPrefix.Parse(p.Prefix), p.AcceptMoreSpecifics)).ToArray();
        Keys = options.Keys.ToDictionary(k => k.KeyId, k => new SiteKey(k.KeyId, k.Algorithm, Encoding.UTF8.GetBytes(k.Key)));
        AllowedRlocs = options.AllowedRlocs.Count == 0 ? null : options.AllowedRlocs.Select(LispAddress.Parse).ToHashSet();
        AcceptZeroNonce = options.AcceptZeroNonce;
        ReplayProtection = options.ReplayProtection;
    }

    /// <summary>How the site's nonces are checked for replays.</summary>
    public ReplayProtection ReplayProtection { get; }

    /// <summary>Whether nonce-0 registrations without the M bit skip the replay check.</summary>
    public bool AcceptZeroNonce { get; }

    /// <summary>The site's name.</summary>
    public string Name { get; }

    // An array, looped over as one: Admit runs for every record of every Map-Register, and a foreach over the interface
    // allocated an enumerator each time (issue #18).
    private readonly SitePrefix[] _prefixes;

    /// <summary>Its EID-prefixes.</summary>
    public IReadOnlyList<SitePrefix> Prefixes => _prefixes;

    internal IReadOnlyDictionary<byte, SiteKey> Keys { get; }

    internal HashSet<LispAddress>? AllowedRlocs { get; }

    /// <summary>The configured prefix that admits <paramref name="eid"/>, if any (exact, or more specific where allowed).</summary>
    public SitePrefix? Admit(EidPrefix eid)
    {
        SitePrefix? best = null;
        foreach (var p in _prefixes)
        {
            if (!p.Prefix.Contains(eid)) continue;
            if (eid.MaskLength != p.Prefix.MaskLength && !p.AcceptMoreSpecifics) continue;
            if (best is null || p.Prefix.MaskLength > best.Prefix.MaskLength) best = p;
        }

        return best;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>A site's EID-prefix.</summary>
public sealed record SitePrefix(EidPrefix Prefix, bool AcceptMoreSpecifics);

/// <summary>A site's pre-shared key; never logged.</summary>
internal sealed record SiteKey(byte KeyId, AuthAlgorithm Algorithm, byte[] Secret)
{
    public override string ToString() => $"key-id {KeyId} {Algorithm}";
}

/// <summary>The configured sites, and the questions the Map-Server asks about them.</summary>
public sealed class SiteRegistry
{
    private readonly Site[] _sites;
    private readonly EidPrefix[] _allPrefixes;

    /// <summary>Compiles validated options.</summary>
    public SiteRegistry(IEnumerable<SiteOptions> sites)
    {
        _sites = sites.Select(s => new Site(s)).ToArray();
        _allPrefixes = _sites.SelectMany(s => s.Prefixes).Select(p => p.Prefix).Distinct().ToArray();
    }

    /// <summary>The sites.</summary>
    public IReadOnlyList<Site> Sites => _sites;

    /// <summary>Sites that admit <paramref name="eid"/>, the most specific configured prefix first.</summary>
    public void Candidates(EidPrefix eid, List<Site> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        into.Clear();
        // Insertion by the admitting prefix's length, most specific first: sites are few, and this runs per Map-Register.
        Span<byte> masks = _sites.Length <= 256 ? stackalloc byte[_sites.Length] : new byte[_sites.Length];
        foreach (var s in _sites)
        {
            if (s.Admit(eid) is not { } admitted) continue;
            var mask = admitted.Prefix.MaskLength;
            var at = into.Count;
            for (; at > 0 && masks[at - 1] < mask; at--) masks[at] = masks[at - 1];
            masks[at] = mask;
            into.Insert(at, s);
        }
    }

    /// <summary>True when some configured EID-prefix covers <paramref name="address"/>.</summary>
    public bool IsEid(LispAddress address)
    {
        foreach (var p in _allPrefixes)
        {
            if (p.Contains(address)) return true;
        }

        return false;
    }

    /// <summary>
    /// The shortest prefix around <paramref name="address"/> that neither covers nor lies inside any
    /// configured EID-prefix: the largest block an ITR may forward natively (RFC 9301 §8.3).
    /// </summary>
    public EidPrefix NonEidCover(LispAddress address)
    {
        var max = address.MaxMaskLength;
        for (var m = 0; m < max; m++)
        {
            var candidate = new EidPrefix(address, m);
            var overlaps = false;
            foreach (var p in _allPrefixes)
            {
                if (candidate.Contains(p) || p.Contains(candidate)) { overlaps = true; break; }
            }

            if (!overlaps) return candidate;
        }

        return new EidPrefix(address, max);
    }
}
