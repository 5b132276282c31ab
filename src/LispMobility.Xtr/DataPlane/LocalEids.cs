using System.Collections.Frozen;
using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The ETR's view of its EIDs, immutable and read without a lock: the site's EID-prefixes (database mappings), its
/// dynamic-EID ranges, the hosts registered here from elsewhere, and the hosts that moved away. A packet for an away host
/// is answered with an SMR. One for an address of a dynamic-EID range outside the database mappings that is not listed
/// here is delivered (a host just arriving is listed only once registered) and its ITR solicited too: a host that moved
/// home or whose registration here was withdrawn is no longer held away, so only the SMR tells a stale ITR. One for an
/// address in none of these is not ours.
/// </summary>
public sealed class LocalEids
{
    private readonly EidPrefix[] _prefixes;
    private readonly EidPrefix[] _dynamic;
    private readonly FrozenSet<(AddressKind, UInt128)> _present;
    private readonly FrozenSet<(AddressKind, UInt128)> _away;

    /// <summary>Builds the view; <paramref name="dynamicRanges"/> are the site's dynamic-EID ranges (hosts come and go there).</summary>
    public LocalEids(IEnumerable<EidPrefix> prefixes, IEnumerable<LispAddress> presentHosts, IEnumerable<LispAddress> awayHosts, IEnumerable<EidPrefix>? dynamicRanges = null)
    {
        ArgumentNullException.ThrowIfNull(prefixes);
        ArgumentNullException.ThrowIfNull(presentHosts);
        ArgumentNullException.ThrowIfNull(awayHosts);
        _prefixes = [.. prefixes.Where(p => p.Address.IsIp)];
        _dynamic = [.. (dynamicRanges ?? []).Where(p => p.Address.IsIp)];
        _present = presentHosts.Where(a => a.IsIp).Select(a => (a.Kind, IpPacket.Bits(a))).ToFrozenSet();
        _away = awayHosts.Where(a => a.IsIp).Select(a => (a.Kind, IpPacket.Bits(a))).ToFrozenSet();
    }

    /// <summary>No EIDs at all.</summary>
    public static LocalEids None { get; } = new([], [], []);

    /// <summary>The state of <paramref name="address"/> at this site. Instance IDs are checked on the LISP header, not here.</summary>
    public LocalEidState StateOf(AddressKind kind, UInt128 address)
    {
        if (_away.Count > 0 && _away.Contains((kind, address))) return LocalEidState.Away;
        if (_present.Count > 0 && _present.Contains((kind, address))) return LocalEidState.Local;
        if (Covers(_prefixes, kind, address)) return LocalEidState.Local;
        return Covers(_dynamic, kind, address) ? LocalEidState.Unlisted : LocalEidState.NotOurs;
    }

    /// <summary>
    /// The view as a longest-prefix-match table that answers as <see cref="StateOf"/> does (the kernel fast path's copy):
    /// dynamic ranges (unlisted, or local where a site prefix covers them), site prefixes (local), then hosts here (local)
    /// and away, each host a full-length entry. A later entry for the same prefix replaces an earlier one.
    /// </summary>
    public IEnumerable<(EidPrefix Prefix, LocalEidState State)> Table()
    {
        foreach (var d in _dynamic)
        {
            var covered = _prefixes.Any(p => p.MaskLength <= d.MaskLength && Covers([p], d.Address.Kind, IpPacket.Bits(d.Address)));
            yield return (d, covered ? LocalEidState.Local : LocalEidState.Unlisted);
        }

        foreach (var p in _prefixes) yield return (p, LocalEidState.Local);
        foreach (var (kind, bits) in _present) yield return (Host(kind, bits), LocalEidState.Local);
        foreach (var (kind, bits) in _away) yield return (Host(kind, bits), LocalEidState.Away);
    }

    private static EidPrefix Host(AddressKind kind, UInt128 bits) => kind == AddressKind.IPv4
        ? new EidPrefix(LispAddress.IPv4((uint)bits), 32)
        : new EidPrefix(LispAddress.IPv6((ulong)(bits >> 64), (ulong)bits), 128);

    private static bool Covers(EidPrefix[] prefixes, AddressKind kind, UInt128 address)
    {
        foreach (var p in prefixes)
        {
            if (p.Address.Kind != kind) continue;
            var bits = kind == AddressKind.IPv4 ? 32 : 128;
            var mask = p.MaskLength == 0 ? UInt128.Zero : UInt128.MaxValue << (bits - p.MaskLength);
            if (kind == AddressKind.IPv4) mask &= uint.MaxValue;
            if ((address & mask) == IpPacket.Bits(p.Address)) return true;
        }

        return false;
    }
}

/// <summary>What an ETR knows of an inner destination.</summary>
public enum LocalEidState
{
    /// <summary>No EID of this site.</summary>
    NotOurs,
    /// <summary>An EID of this site that is here.</summary>
    Local,
    /// <summary>A host of this site that moved away.</summary>
    Away,
    /// <summary>An address of one of this site's dynamic-EID ranges that no host here has (yet, or any more).</summary>
    Unlisted,
}
