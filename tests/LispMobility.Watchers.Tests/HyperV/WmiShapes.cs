using LispMobility.Watchers.HyperV;

namespace LispMobility.Watchers.Tests.HyperV;

/// <summary>
/// CIM instances shaped like Hyper-V's in root\virtualization\v2: the property names, and the CLR types that
/// System.Management returns for them (uint16 → ushort, uint64 → ulong, string[] → string[], datetime → DMTF string).
/// </summary>
internal static class WmiShapes
{
    public static CimInstance ComputerSystem(string id, string name, ushort enabledState, ushort replicationMode = 0,
        ushort failedOverReplicationType = 0, ushort replicationState = 0) =>
        new("Msvm_ComputerSystem", new Dictionary<string, object?>
        {
            ["Caption"] = "Virtual Machine",
            ["CreationClassName"] = "Msvm_ComputerSystem",
            ["Description"] = "Microsoft Virtual Machine",
            ["ElementName"] = name,
            ["EnabledDefault"] = (ushort)2,
            ["EnabledState"] = enabledState,
            ["FailedOverReplicationType"] = failedOverReplicationType,
            ["HealthState"] = (ushort)5,
            ["InstallDate"] = "20260101120000.000000-000",
            ["Name"] = id,
            ["OnTimeInMilliseconds"] = enabledState == 2 ? 123456UL : 0UL,
            ["OperationalStatus"] = new ushort[] { 2 },
            ["ProcessID"] = enabledState == 2 ? 4242U : (uint?)null,
            ["ReplicationHealth"] = (ushort)(replicationMode == 0 ? 0 : 1),
            ["ReplicationMode"] = replicationMode,
            ["ReplicationState"] = replicationState,
            ["RequestedState"] = (ushort)12,
            ["TimeOfLastStateChange"] = "20261122040000.000000-000",
        });

    public static CimInstance ReplicationRelationship(string vmId, ushort state, ushort health = 1) =>
        new("Msvm_ReplicationRelationship", new Dictionary<string, object?>
        {
            ["InstanceID"] = $"Microsoft:{vmId}\\HVR\\0",
            ["ElementName"] = "Replication relationship",
            ["ReplicationState"] = state,
            ["ReplicationHealth"] = health,
            ["LastReplicationTime"] = "20261122035500.000000-000",
            ["LastReplicationType"] = (ushort)1,
            ["LastApplicationConsistentReplicationTime"] = "16010101000000.000000-000",
        });

    public static CimInstance ReplicationSettings(string vmId, string primary, string recovery) =>
        new("Msvm_ReplicationSettingData", new Dictionary<string, object?>
        {
            ["InstanceID"] = $"Microsoft:{vmId}",
            ["VirtualSystemIdentifier"] = vmId,
            ["PrimaryHostSystem"] = primary,
            ["RecoveryHostSystem"] = recovery,
            ["PrimaryConnectionPoint"] = primary,
            ["RecoveryConnectionPoint"] = recovery,
            ["ReplicationInterval"] = (ushort)300,
        });

    public static CimInstance SyntheticAdapter(string vmId, string mac) =>
        new("Msvm_SyntheticEthernetPortSettingData", new Dictionary<string, object?>
        {
            ["InstanceID"] = $"Microsoft:{vmId}\\C3F8A9E2-7B41-4D2A-9E11-5A6B7C8D9E0F",
            ["ElementName"] = "Network Adapter",
            ["Address"] = mac,
            ["StaticMacAddress"] = false,
            ["ResourceType"] = (ushort)10,
            ["ResourceSubType"] = "Microsoft:Hyper-V:Synthetic Ethernet Port",
        });

    public static CimInstance GuestNetwork(string vmId, params string[] addresses) =>
        new("Msvm_GuestNetworkAdapterConfiguration", new Dictionary<string, object?>
        {
            ["InstanceID"] = $"Microsoft:GuestNetwork\\{vmId}\\C3F8A9E2-7B41-4D2A-9E11-5A6B7C8D9E0F",
            ["IPAddresses"] = addresses,
            ["Subnets"] = addresses.Select(a => a.Contains(':', StringComparison.Ordinal) ? "/64" : "255.255.255.0").ToArray(),
            ["DefaultGateways"] = new[] { "10.1.0.1" },
            ["DHCPEnabled"] = false,
            ["ProtocolIFType"] = (ushort)4096,
        });

    public static CimInstance Kvp(string vmId, string ipv4) =>
        new("Msvm_KvpExchangeComponent", new Dictionary<string, object?>
        {
            ["SystemName"] = vmId,
            ["ElementName"] = "Key-Value Pair Exchange",
            ["GuestIntrinsicExchangeItems"] = new[]
            {
                Item("FullyQualifiedDomainName", "web1.example.net"),
                "<INSTANCE CLASSNAME=\"Msvm_KvpExchangeDataItem\"><PROPERTY NAME=\"Data\" TYPE=\"string\"><VALUE>broken",
                Item("NetworkAddressIPv4", ipv4),
                Item("NetworkAddressIPv6", "fe80::215:5dff:fe0a:b01;2001:db8:1::10"),
            },
        });

    private static string Item(string name, string data) =>
        "<INSTANCE CLASSNAME=\"Msvm_KvpExchangeDataItem\">"
        + "<PROPERTY NAME=\"Caption\" PROPAGATED=\"true\" TYPE=\"string\"></PROPERTY>"
        + $"<PROPERTY NAME=\"Data\" TYPE=\"string\"><VALUE>{data}</VALUE></PROPERTY>"
        + "<PROPERTY NAME=\"Description\" PROPAGATED=\"true\" TYPE=\"string\"></PROPERTY>"
        + $"<PROPERTY NAME=\"Name\" TYPE=\"string\"><VALUE>{name}</VALUE></PROPERTY>"
        + "<PROPERTY NAME=\"Source\" TYPE=\"uint16\"><VALUE>2</VALUE></PROPERTY>"
        + "</INSTANCE>";
}

/// <summary>An <see cref="IHyperVCim"/> over fixture instances that a test changes, then announces like WMI would.</summary>
internal sealed class FixtureHyperVCim : IHyperVCim
{
    private readonly object _gate = new();
    private Action<CimChange>? _onChange;

    public Dictionary<string, CimInstance> Systems { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Relationships { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance[]> Adapters { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance[]> Guests { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Kvps { get; } = new(StringComparer.OrdinalIgnoreCase);

    public void Raise(CimChange change) => _onChange?.Invoke(change);

    public IReadOnlyList<CimInstance> VirtualMachines() { lock (_gate) return [.. Systems.Values]; }
    public CimInstance? VirtualMachine(string vmId) { lock (_gate) return Systems.GetValueOrDefault(vmId); }
    public CimInstance? ReplicationRelationship(string vmId) { lock (_gate) return Relationships.GetValueOrDefault(vmId); }
    public CimInstance? ReplicationSettings(string vmId) { lock (_gate) return Settings.GetValueOrDefault(vmId); }
    public IReadOnlyList<CimInstance> NetworkAdapters(string vmId) { lock (_gate) return Adapters.GetValueOrDefault(vmId) ?? []; }
    public IReadOnlyList<CimInstance> GuestNetworkConfigurations(string vmId) { lock (_gate) return Guests.GetValueOrDefault(vmId) ?? []; }
    public CimInstance? KvpExchange(string vmId) { lock (_gate) return Kvps.GetValueOrDefault(vmId); }

    public IDisposable Watch(Action<CimChange> onChange)
    {
        _onChange = onChange;
        return new Unsubscribe(this);
    }

    public void Change(Action<FixtureHyperVCim> edit) { lock (_gate) edit(this); }

    private sealed class Unsubscribe(FixtureHyperVCim owner) : IDisposable
    {
        public void Dispose() => owner._onChange = null;
    }
}
