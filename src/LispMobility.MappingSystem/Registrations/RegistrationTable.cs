using LispMobility.Lisp.Addressing;

namespace LispMobility.MappingSystem.Registrations;

/// <summary>Registered EID-prefixes, longest-prefix matched (the shared <see cref="PrefixTable{TValue}"/>).</summary>
internal sealed class RegistrationTable
{
    private readonly PrefixTable<RegisteredEid> _table = new();

    public int Count => _table.Count;

    public IEnumerable<RegisteredEid> All => _table.Values;

    public bool TryGet(EidPrefix prefix, out RegisteredEid entry) => _table.TryGet(prefix, out entry);

    public void Add(RegisteredEid entry) => _table.Set(entry.Prefix, entry);

    public void Remove(RegisteredEid entry) => _table.Remove(entry.Prefix);

    /// <summary>The most specific registered prefix covering <paramref name="address"/>.</summary>
    public RegisteredEid? Lookup(LispAddress address, int maxMaskLength = int.MaxValue) =>
        _table.TryLookup(address, out _, out var entry, maxMaskLength) ? entry : null;
}
