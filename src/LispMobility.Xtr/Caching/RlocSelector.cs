using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;

namespace LispMobility.Xtr.Caching;

/// <summary>
/// Chooses the RLOC a flow goes to (RFC 9300 §10): the lowest usable priority, then a weight-proportional
/// choice by the hash of the inner 5-tuple, so that one flow always takes one RLOC. Priority 255 and
/// unreachable RLOCs are never chosen.
/// </summary>
public static class RlocSelector
{
    /// <summary>The RLOC for a flow, or null when no locator is usable.</summary>
    public static Locator? Select(IReadOnlyList<Locator> locators, uint flowHash)
    {
        ArgumentNullException.ThrowIfNull(locators);
        return Select(locators as Locator[] ?? [.. locators], flowHash, static _ => true);
    }

    /// <summary>
    /// The RLOC for a flow among the locators <paramref name="canSendTo"/> accepts (the data plane passes the address families
    /// it has a local RLOC of), or null. Allocates nothing.
    /// </summary>
    public static Locator? Select(ReadOnlySpan<Locator> locators, uint flowHash, Func<LispAddress, bool> canSendTo)
    {
        ArgumentNullException.ThrowIfNull(canSendTo);
        var best = int.MaxValue;
        var totalWeight = 0;
        var usable = 0;
        foreach (var l in locators)
        {
            if (!l.IsUsable || !canSendTo(l.Address)) continue;
            if (l.Priority < best) { best = l.Priority; totalWeight = 0; usable = 0; }
            if (l.Priority == best) { totalWeight += l.Weight; usable++; }
        }

        if (usable == 0) return null;
        // All weights zero: split evenly (RFC 9301 §5.4 leaves it to the ITR).
        if (totalWeight == 0)
        {
            var pick = (int)(flowHash % (uint)usable);
            foreach (var l in locators)
            {
                if (l.IsUsable && l.Priority == best && canSendTo(l.Address) && pick-- == 0) return l;
            }
        }

        var point = flowHash % (uint)totalWeight;
        foreach (var l in locators)
        {
            if (!l.IsUsable || l.Priority != best || !canSendTo(l.Address)) continue;
            if (point < l.Weight) return l;
            point -= l.Weight;
        }

        return null;
    }

    /// <summary>A stable hash of a 5-tuple (FNV-1a over the fields).</summary>
    public static uint FlowHash(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, ushort sourcePort, ushort destinationPort)
    {
        var h = 2166136261u;
        foreach (var b in source) h = (h ^ b) * 16777619u;
        foreach (var b in destination) h = (h ^ b) * 16777619u;
        h = (h ^ protocol) * 16777619u;
        h = (h ^ (uint)(sourcePort >> 8)) * 16777619u;
        h = (h ^ (uint)(sourcePort & 0xFF)) * 16777619u;
        h = (h ^ (uint)(destinationPort >> 8)) * 16777619u;
        h = (h ^ (uint)(destinationPort & 0xFF)) * 16777619u;
        return h;
    }
}
