using LispMobility.Lisp.Addressing;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>
/// Registered EID-prefixes, longest-prefix matched. IPv4 prefixes (with or without an instance ID) are keyed by one
/// <see cref="ulong"/>: a Map-Server holds hundreds of thousands of /32s, and an <see cref="EidPrefix"/> key makes each
/// dictionary entry 64 bytes instead of 24 (issue #18). Every other prefix goes to the shared <see cref="PrefixTable{TValue}"/>.
/// </summary>
internal sealed class RegistrationTable(int expected = 0)
{
    private readonly Dictionary<ulong, RegisteredEid> _ipv4 = new(expected);
    // Per instance (see InstanceOf): how many IPv4 prefixes of each mask length, so a lookup probes only lengths that exist.
    private readonly Dictionary<uint, MaskLengths> _ipv4MaskCounts = [];
    private readonly PrefixTable<RegisteredEid> _other = new();

    public int Count => _ipv4.Count + _other.Count;

    public IEnumerable<RegisteredEid> All => _ipv4.Values.Concat(_other.Values);

    public bool TryGet(EidPrefix prefix, out RegisteredEid entry) =>
        IsCompact(prefix.Address) ? _ipv4.TryGetValue(Key(prefix.Address, prefix.MaskLength), out entry!) : _other.TryGet(prefix, out entry);

    public void Add(RegisteredEid entry)
    {
        var prefix = entry.Prefix;
        if (!IsCompact(prefix.Address))
        {
            _other.Set(prefix, entry);
            return;
        }

        if (!_ipv4.TryAdd(Key(prefix.Address, prefix.MaskLength), entry))
        {
            _ipv4[Key(prefix.Address, prefix.MaskLength)] = entry;
            return;
        }

        var instance = InstanceOf(prefix.Address);
        if (!_ipv4MaskCounts.TryGetValue(instance, out var lengths)) _ipv4MaskCounts[instance] = lengths = new MaskLengths();
        lengths.Add(prefix.MaskLength);
    }

    public void Remove(RegisteredEid entry)
    {
        var prefix = entry.Prefix;
        if (!IsCompact(prefix.Address))
        {
            _other.Remove(prefix);
            return;
        }

        if (_ipv4.Remove(Key(prefix.Address, prefix.MaskLength))) _ipv4MaskCounts[InstanceOf(prefix.Address)].Remove(prefix.MaskLength);
    }

    /// <summary>The most specific registered prefix covering <paramref name="address"/>.</summary>
    public RegisteredEid? Lookup(LispAddress address, int maxMaskLength = int.MaxValue)
    {
        if (!IsCompact(address)) return _other.TryLookup(address, out _, out var entry, maxMaskLength) ? entry : null;
        if (!_ipv4MaskCounts.TryGetValue(InstanceOf(address), out var lengths) || maxMaskLength < 0) return null;
        // Only the lengths held, longest first: a new /32's search for a covering prefix probed all 32 shorter ones (issue #18).
        var present = lengths.Present & (ulong.MaxValue >> (63 - Math.Min(32, maxMaskLength)));
        while (present != 0)
        {
            var m = 63 - System.Numerics.BitOperations.LeadingZeroCount(present);
            if (_ipv4.TryGetValue(Key(address, m), out var found)) return found;
            present &= ~(1UL << m);
        }

        return null;
    }

    // An address with an instance-ID mask length (the IID LCAF's rsvd2, almost always 0) matches only prefixes with the same
    // one, as in PrefixTable: such prefixes stay there, and the key below needs no room for it.
    private static bool IsCompact(LispAddress address) => address.Kind == AddressKind.IPv4 && address.InstanceIdMaskLength == 0;

    private static uint InstanceOf(LispAddress address) => address.HasInstanceId ? address.InstanceId + 1 : 0;

    // Instance (25 bits, InstanceOf), the address's first maskLength bits (32), the mask length (6).
    private static ulong Key(LispAddress address, int maskLength)
    {
        var bits = maskLength == 0 ? 0u : address.IPv4Value & (uint.MaxValue << (32 - maskLength));
        return (ulong)InstanceOf(address) << 38 | (ulong)bits << 6 | (uint)maskLength;
    }

    /// <summary>How many prefixes of each mask length (0–32) one instance holds, and which lengths it holds any of.</summary>
    private sealed class MaskLengths
    {
        private readonly int[] _counts = new int[33];

        /// <summary>Bit m set: some prefix of length m is held.</summary>
        public ulong Present { get; private set; }

        public void Add(int maskLength)
        {
            if (_counts[maskLength]++ == 0) Present |= 1UL << maskLength;
        }

        public void Remove(int maskLength)
        {
            if (--_counts[maskLength] == 0) Present &= ~(1UL << maskLength);
        }
    }
}
