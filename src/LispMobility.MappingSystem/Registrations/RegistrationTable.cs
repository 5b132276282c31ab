using LispMobility.Lisp.Addressing;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>
/// Registered EID-prefixes with longest-prefix match per address family and instance ID: one hash
/// table keyed by prefix, plus a count of prefixes per mask length so a lookup probes only the mask
/// lengths that exist (at most 33 or 129 hash lookups, usually 2).
/// </summary>
internal sealed class RegistrationTable
{
    private readonly Dictionary<EidPrefix, RegisteredEid> _byPrefix = [];
    private readonly Dictionary<(AddressKind, bool, uint), int[]> _maskCounts = [];

    public int Count => _byPrefix.Count;

    public IEnumerable<RegisteredEid> All => _byPrefix.Values;

    public bool TryGet(EidPrefix prefix, out RegisteredEid entry) => _byPrefix.TryGetValue(prefix, out entry!);

    public void Add(RegisteredEid entry)
    {
        _byPrefix.Add(entry.Prefix, entry);
        Counts(entry.Prefix.Address, create: true)![entry.Prefix.MaskLength]++;
    }

    public void Remove(RegisteredEid entry)
    {
        if (!_byPrefix.Remove(entry.Prefix)) return;
        var counts = Counts(entry.Prefix.Address, create: false);
        if (counts is not null) counts[entry.Prefix.MaskLength]--;
    }

    /// <summary>The most specific registered prefix covering <paramref name="address"/>.</summary>
    public RegisteredEid? Lookup(LispAddress address, int maxMaskLength = int.MaxValue)
    {
        var counts = Counts(address, create: false);
        if (counts is null) return null;
        for (var m = Math.Min(address.MaxMaskLength, maxMaskLength); m >= 0; m--)
        {
            if (counts[m] == 0) continue;
            if (_byPrefix.TryGetValue(new EidPrefix(address, m), out var entry)) return entry;
        }

        return null;
    }

    private int[]? Counts(LispAddress address, bool create)
    {
        var key = (address.Kind, address.HasInstanceId, address.InstanceId);
        if (_maskCounts.TryGetValue(key, out var counts)) return counts;
        if (!create) return null;
        counts = new int[address.MaxMaskLength + 1];
        _maskCounts[key] = counts;
        return counts;
    }
}
