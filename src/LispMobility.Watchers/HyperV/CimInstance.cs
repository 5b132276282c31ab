using System.Globalization;

namespace LispMobility.Watchers.HyperV;

/// <summary>
/// One WMI/CIM instance as a property bag: the class name and its properties with the CLR types WMI hands out
/// (uint16 → <see cref="ushort"/>, string[] → <see cref="string"/>[], datetime → DMTF string).
/// </summary>
public sealed record CimInstance(string ClassName, IReadOnlyDictionary<string, object?> Properties)
{
    /// <summary>A string property, or null when absent or null.</summary>
    public string? String(string name) => Properties.TryGetValue(name, out var v) ? v as string : null;

    /// <summary>An integer property of any WMI integer type, or null.</summary>
    public long? Integer(string name) =>
        Properties.TryGetValue(name, out var v) && v is IConvertible c and not string ? c.ToInt64(CultureInfo.InvariantCulture) : null;

    /// <summary>A string-array property, empty when absent or null.</summary>
    public IReadOnlyList<string> Strings(string name) =>
        Properties.TryGetValue(name, out var v) && v is string[] array ? array : [];
}

/// <summary>What happened to a VM's <c>Msvm_ComputerSystem</c>, as WMI intrinsic events say.</summary>
public enum CimChangeKind
{
    /// <summary><c>__InstanceCreationEvent</c>: a VM appeared on this host (created, or live-migrated in).</summary>
    Created,
    /// <summary><c>__InstanceModificationEvent</c>.</summary>
    Modified,
    /// <summary><c>__InstanceDeletionEvent</c>: deleted, or live-migrated away.</summary>
    Deleted,
    /// <summary>A VMMS-Admin live-migration event (20415, 20417, 20418) naming the VM.</summary>
    LiveMigrationLogged,
}

/// <summary>One change notification: the kind and the VM's id (its <c>Name</c>, a GUID).</summary>
public sealed record CimChange(CimChangeKind Kind, string VmId, string? VmName = null, int? EventId = null);
