namespace LispMobility.Lisp.Addressing;

/// <summary>
/// EID-prefixes to values with longest-prefix match per address family and instance ID: one hash
/// table keyed by prefix, plus a count of prefixes per mask length, so that a lookup probes only the
/// mask lengths that exist (usually two or three hash lookups, never more than 33 or 129). Not thread-safe.
/// </summary>
public sealed class PrefixTable<TValue>
{
    private readonly Dictionary<EidPrefix, TValue> _byPrefix = [];
    private readonly Dictionary<(AddressKind, bool, uint), int[]> _maskCounts = [];

    /// <summary>Number of prefixes.</summary>
    public int Count => _byPrefix.Count;

    /// <summary>Every value.</summary>
    public IEnumerable<TValue> Values => _byPrefix.Values;

    /// <summary>Every prefix and value.</summary>
    public IEnumerable<KeyValuePair<EidPrefix, TValue>> Entries => _byPrefix;

    /// <summary>The value stored for exactly <paramref name="prefix"/>.</summary>
    public bool TryGet(EidPrefix prefix, out TValue value) => _byPrefix.TryGetValue(prefix, out value!);

    /// <summary>Adds or replaces the value of <paramref name="prefix"/>.</summary>
    public void Set(EidPrefix prefix, TValue value)
    {
        if (_byPrefix.TryAdd(prefix, value))
        {
            Counts(prefix.Address, create: true)![prefix.MaskLength]++;
            return;
        }

        _byPrefix[prefix] = value;
    }

    /// <summary>Removes <paramref name="prefix"/>; false when it was not there.</summary>
    public bool Remove(EidPrefix prefix)
    {
        if (!_byPrefix.Remove(prefix)) return false;
        var counts = Counts(prefix.Address, create: false);
        if (counts is not null) counts[prefix.MaskLength]--;
        return true;
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        _byPrefix.Clear();
        _maskCounts.Clear();
    }

    /// <summary>The most specific prefix covering <paramref name="address"/>, no longer than <paramref name="maxMaskLength"/>.</summary>
    public bool TryLookup(LispAddress address, out EidPrefix prefix, out TValue value, int maxMaskLength = int.MaxValue)
    {
        var counts = Counts(address, create: false);
        if (counts is not null)
        {
            for (var m = Math.Min(address.MaxMaskLength, maxMaskLength); m >= 0; m--)
            {
                if (counts[m] == 0) continue;
                var candidate = new EidPrefix(address, m);
                if (_byPrefix.TryGetValue(candidate, out value!))
                {
                    prefix = candidate;
                    return true;
                }
            }
        }

        prefix = default;
        value = default!;
        return false;
    }

    private int[]? Counts(LispAddress address, bool create)
    {
        var key = (address.Kind, address.HasInstanceId, address.InstanceId);
        if (_maskCounts.TryGetValue(key, out var counts)) return counts;
        if (!create || !address.IsIp) return null;
        counts = new int[address.MaxMaskLength + 1];
        _maskCounts[key] = counts;
        return counts;
    }
}
