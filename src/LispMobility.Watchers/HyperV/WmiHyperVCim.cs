using System.Diagnostics.Eventing.Reader;
using System.Management;
using System.Runtime.Versioning;

namespace LispMobility.Watchers.HyperV;

/// <summary><see cref="IHyperVCim"/> over <c>System.Management</c> (WMI) in <c>root\virtualization\v2</c>.</summary>
[SupportedOSPlatform("windows")]
public sealed class WmiHyperVCim : IHyperVCim, IDisposable
{
    private const string VmmsAdminLog = "Microsoft-Windows-Hyper-V-VMMS-Admin";
    private readonly ManagementScope _scope = new(@"\\.\root\virtualization\v2");

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> VirtualMachines() =>
        Query("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'");

    /// <inheritdoc />
    public CimInstance? VirtualMachine(string vmId) =>
        Query($"SELECT * FROM Msvm_ComputerSystem WHERE Name = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public CimInstance? ReplicationRelationship(string vmId) =>
        // WQL string literals escape a backslash by doubling it: InstanceID is Microsoft:<vmid>\HVR\0.
        Query($"SELECT * FROM Msvm_ReplicationRelationship WHERE InstanceID = 'Microsoft:{VmGuid(vmId)}\\\\HVR\\\\0'").FirstOrDefault();

    /// <inheritdoc />
    public CimInstance? ReplicationSettings(string vmId) =>
        // Unconfirmed: that Msvm_ReplicationSettingData carries VirtualSystemIdentifier (it does on 2012 R2+ in the MOF we read).
        Query($"SELECT * FROM Msvm_ReplicationSettingData WHERE VirtualSystemIdentifier = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> NetworkAdapters(string vmId) =>
        Query($"SELECT * FROM Msvm_SyntheticEthernetPortSettingData WHERE InstanceID LIKE 'Microsoft:{VmGuid(vmId)}%'");

    /// <inheritdoc />
    public IReadOnlyList<CimInstance> GuestNetworkConfigurations(string vmId) =>
        Query($"SELECT * FROM Msvm_GuestNetworkAdapterConfiguration WHERE InstanceID LIKE 'Microsoft:GuestNetwork\\\\{VmGuid(vmId)}%'");

    /// <inheritdoc />
    public CimInstance? KvpExchange(string vmId) =>
        Query($"SELECT * FROM Msvm_KvpExchangeComponent WHERE SystemName = '{VmGuid(vmId)}'").FirstOrDefault();

    /// <inheritdoc />
    public IDisposable Watch(Action<CimChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        var wmi = new ManagementEventWatcher(_scope, new WqlEventQuery(
            "SELECT * FROM __InstanceOperationEvent WITHIN 2 WHERE TargetInstance ISA 'Msvm_ComputerSystem' AND TargetInstance.Caption = 'Virtual Machine'"));
        wmi.EventArrived += (_, e) =>
        {
            var kind = e.NewEvent.ClassPath.ClassName switch
            {
                "__InstanceCreationEvent" => CimChangeKind.Created,
                "__InstanceDeletionEvent" => CimChangeKind.Deleted,
                _ => CimChangeKind.Modified,
            };
            if (e.NewEvent["TargetInstance"] is ManagementBaseObject target && target["Name"] is string id)
                onChange(new CimChange(kind, id, target["ElementName"] as string));
        };
        wmi.Start();
        var log = new EventLogWatcher(new EventLogQuery(VmmsAdminLog, PathType.LogName,
            "*[System[(EventID=20415 or EventID=20417 or EventID=20418)]]"));
        log.EventRecordWritten += (_, e) =>
        {
            using var record = e.EventRecord;
            if (record is null) return;
            // The payload's field order is unconfirmed: the VM id is whichever value is a GUID, the name the first other string.
            var values = record.Properties.Select(p => p.Value?.ToString()).OfType<string>().ToArray();
            var id = values.FirstOrDefault(v => System.Guid.TryParse(v, out System.Guid _));
            if (id is not null) onChange(new CimChange(CimChangeKind.LiveMigrationLogged, id, values.FirstOrDefault(v => v != id), record.Id));
        };
        log.Enabled = true;
        return new Subscription(wmi, log);
    }

    /// <inheritdoc />
    public void Dispose() { }

    private IReadOnlyList<CimInstance> Query(string wql)
    {
        using var searcher = new ManagementObjectSearcher(_scope, new ObjectQuery(wql));
        using var results = searcher.Get();
        var list = new List<CimInstance>();
        foreach (var item in results)
        {
            using (item)
            {
                var properties = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                foreach (var property in item.Properties) properties[property.Name] = property.Value;
                list.Add(new CimInstance(item.ClassPath.ClassName, properties));
            }
        }
        return list;
    }

    // Ids go into WQL literals: only a GUID may, so nothing can be injected.
    private static string VmGuid(string vmId) =>
        System.Guid.TryParse(vmId, out var id) ? id.ToString("D").ToUpperInvariant() : throw new ArgumentException($"'{vmId}' is not a Hyper-V VM id (a GUID)", nameof(vmId));

    private sealed class Subscription(ManagementEventWatcher wmi, EventLogWatcher log) : IDisposable
    {
        public void Dispose()
        {
            wmi.Stop();
            wmi.Dispose();
            log.Enabled = false;
            log.Dispose();
        }
    }
}
