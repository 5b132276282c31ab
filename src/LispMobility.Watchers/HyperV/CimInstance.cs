using System.Globalization;

namespace LispMobility.Watchers.HyperV;

/// <summary>
/// One CIM instance as a property bag: the class name and its properties with the CLR types
/// Microsoft.Management.Infrastructure hands out (uint16 → <see cref="ushort"/>, uint16[] → <see cref="ushort"/>[],
/// string[] → <see cref="string"/>[], datetime → <see cref="DateTime"/> or <see cref="TimeSpan"/>), and an embedded
/// instance (an indication's <c>TargetInstance</c>, <c>PreviousInstance</c>) as a nested <see cref="CimInstance"/>.
/// </summary>
public sealed record CimInstance(string ClassName, IReadOnlyDictionary<string, object?> Properties)
{
    /// <summary>A string property, or null when absent or null.</summary>
    public string? String(string name) => Properties.TryGetValue(name, out var v) ? v as string : null;

    /// <summary>An integer property of any CIM integer type, or null.</summary>
    public long? Integer(string name) =>
        Properties.TryGetValue(name, out var v) && v is IConvertible c and not string ? c.ToInt64(CultureInfo.InvariantCulture) : null;

    /// <summary>An integer-array property (e.g. <c>OperationalStatus</c>), empty when absent or null.</summary>
    public IReadOnlyList<long> Integers(string name) =>
        Properties.TryGetValue(name, out var v) && v is Array array
            ? array.OfType<IConvertible>().Where(c => c is not string).Select(c => c.ToInt64(CultureInfo.InvariantCulture)).ToArray()
            : [];

    /// <summary>A string-array property, empty when absent or null.</summary>
    public IReadOnlyList<string> Strings(string name) =>
        Properties.TryGetValue(name, out var v) && v is string[] array ? array : [];

    /// <summary>An embedded-instance property, or null.</summary>
    public CimInstance? Instance(string name) => Properties.TryGetValue(name, out var v) ? v as CimInstance : null;
}

/// <summary>What happened to a VM on one Hyper-V host, as its CIM indications say.</summary>
public enum CimChangeKind
{
    /// <summary>A <c>Msvm_ComputerSystem</c> creation: a VM appeared on this host (created, or live-migrated in).</summary>
    Created,
    /// <summary>A modification of the VM's <c>Msvm_ComputerSystem</c> or <c>Msvm_ReplicationRelationship</c>.</summary>
    Modified,
    /// <summary>A <c>Msvm_ComputerSystem</c> deletion: deleted, or live-migrated away.</summary>
    Deleted,
    /// <summary>A <c>Msvm_MigrationJob</c> that moved the VM itself completed (a second signal of a live migration).</summary>
    LiveMigrationLogged,
}

/// <summary>One change notification: the kind and the VM's id (its <c>Name</c>, a GUID).</summary>
public sealed record CimChange(CimChangeKind Kind, string VmId, string? VmName = null, int? EventId = null);
