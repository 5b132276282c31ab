using LispMobility.Watchers.HyperV;

namespace LispMobility.Watchers.Tests.HyperV;

/// <summary>
/// CIM instances shaped like Hyper-V's in root\virtualization\v2 as Microsoft.Management.Infrastructure hands them out:
/// the property names, the CLR types of its CimProperty values (uint16 → ushort, uint16[] → ushort[], uint64 → ulong,
/// string[] → string[], datetime → DateTime), and indications (CIM_InstModification, CIM_InstCreation,
/// CIM_InstDeletion) with the changed instance embedded as TargetInstance and its former state as PreviousInstance.
/// </summary>
internal static class MmiShapes
{
    public static CimInstance ComputerSystem(string id, string name, ushort enabledState, ushort replicationMode = 0,
        ushort failedOverReplicationType = 0, ushort replicationState = 0, bool migrating = false) =>
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
            ["InstallDate"] = new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc),
            ["Name"] = id,
            ["OnTimeInMilliseconds"] = enabledState == 2 ? 123456UL : 0UL,
            // OperationalStatus[1] 32774 "Migrating" while a live migration runs.
            ["OperationalStatus"] = migrating ? new ushort[] { 2, 32774 } : new ushort[] { 2 },
            ["ProcessID"] = enabledState == 2 ? 4242U : (uint?)null,
            ["ReplicationHealth"] = (ushort)(replicationMode == 0 ? 0 : 1),
            ["ReplicationMode"] = replicationMode,
            ["ReplicationState"] = replicationState,
            ["RequestedState"] = (ushort)12,
            ["TimeOfLastStateChange"] = new DateTime(2026, 11, 22, 4, 0, 0, DateTimeKind.Utc),
        });

    public static CimInstance ReplicationRelationship(string vmId, ushort state, ushort health = 1) =>
        new("Msvm_ReplicationRelationship", new Dictionary<string, object?>
        {
            ["InstanceID"] = $"Microsoft:{vmId}\\HVR\\0",
            ["ElementName"] = "Replication relationship",
            ["ReplicationState"] = state,
            ["ReplicationHealth"] = health,
            ["LastReplicationTime"] = new DateTime(2026, 11, 22, 3, 55, 0, DateTimeKind.Utc),
            ["LastReplicationType"] = (ushort)1,
            ["LastApplicationConsistentReplicationTime"] = new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc),
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

    /// <summary>The host's own Msvm_ComputerSystem: its Name is the computer name, not a GUID.</summary>
    public static CimInstance HostSystem(string computerName) =>
        new("Msvm_ComputerSystem", new Dictionary<string, object?>
        {
            ["Caption"] = "Hosting Computer System",
            ["ElementName"] = computerName,
            ["Name"] = computerName,
            ["EnabledState"] = (ushort)2,
            ["OperationalStatus"] = new ushort[] { 2 },
        });

    public static CimInstance MigrationJob(string vmId, ushort jobState, ushort migrationType = 32768, string destination = "hv-lyon-1") =>
        new("Msvm_MigrationJob", new Dictionary<string, object?>
        {
            ["InstanceID"] = "5D1C2B3A-0000-4000-8000-00000000AB01",
            ["Caption"] = "Virtual System Migration",
            ["ElementName"] = "Virtual System Migration",
            ["JobState"] = jobState,
            ["JobType"] = (ushort)5,
            ["PercentComplete"] = (ushort)(jobState == 7 ? 100 : 40),
            ["MigrationType"] = migrationType,
            ["VirtualSystemName"] = vmId,
            ["DestinationHost"] = destination,
            ["ErrorCode"] = (ushort)0,
        });

    /// <summary>A CIM_InstModification indication: the new state as TargetInstance, the old one as PreviousInstance.</summary>
    public static CimInstance Modification(CimInstance previous, CimInstance target) => Indication("CIM_InstModification", target, previous);

    /// <summary>A CIM_InstCreation indication.</summary>
    public static CimInstance Creation(CimInstance target) => Indication("CIM_InstCreation", target, null);

    /// <summary>A CIM_InstDeletion indication.</summary>
    public static CimInstance Deletion(CimInstance target) => Indication("CIM_InstDeletion", target, null);

    private static CimInstance Indication(string className, CimInstance target, CimInstance? previous)
    {
        var properties = new Dictionary<string, object?>
        {
            ["IndicationIdentifier"] = null,
            ["IndicationTime"] = new DateTime(2026, 11, 22, 4, 0, 0, DateTimeKind.Utc),
            ["SourceInstanceHost"] = "hv-lyon-1",
            ["SourceInstanceModelPath"] = $"{target.ClassName}.Name=\"{target.String("Name")}\"",
            ["TargetInstance"] = target,
        };
        if (previous is not null) properties["PreviousInstance"] = previous;
        return new CimInstance(className, properties);
    }

    private static string Item(string name, string data) =>
        "<INSTANCE CLASSNAME=\"Msvm_KvpExchangeDataItem\">"
        + "<PROPERTY NAME=\"Caption\" PROPAGATED=\"true\" TYPE=\"string\"></PROPERTY>"
        + $"<PROPERTY NAME=\"Data\" TYPE=\"string\"><VALUE>{data}</VALUE></PROPERTY>"
        + "<PROPERTY NAME=\"Description\" PROPAGATED=\"true\" TYPE=\"string\"></PROPERTY>"
        + $"<PROPERTY NAME=\"Name\" TYPE=\"string\"><VALUE>{name}</VALUE></PROPERTY>"
        + "<PROPERTY NAME=\"Source\" TYPE=\"uint16\"><VALUE>2</VALUE></PROPERTY>"
        + "</INSTANCE>";
}

/// <summary>An <see cref="IHyperVCim"/> over fixture instances that a test changes, then announces with an indication as MMI would.</summary>
internal sealed class FixtureHyperVCim : IHyperVCim
{
    private readonly object _gate = new();
    private Action<CimInstance>? _onIndication;
    private Action<Exception>? _onError;

    public Dictionary<string, CimInstance> Systems { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Relationships { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Settings { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance[]> Adapters { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance[]> Guests { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, CimInstance> Kvps { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int Connections { get; private set; }

    public bool Watching => _onIndication is not null;

    public void Raise(CimInstance indication) => _onIndication?.Invoke(indication);

    public void Break(Exception error) => _onError?.Invoke(error);

    public IReadOnlyList<CimInstance> VirtualMachines() { lock (_gate) return [.. Systems.Values]; }
    public CimInstance? VirtualMachine(string vmId) { lock (_gate) return Systems.GetValueOrDefault(vmId); }
    public CimInstance? ReplicationRelationship(string vmId) { lock (_gate) return Relationships.GetValueOrDefault(vmId); }
    public CimInstance? ReplicationSettings(string vmId) { lock (_gate) return Settings.GetValueOrDefault(vmId); }
    public IReadOnlyList<CimInstance> NetworkAdapters(string vmId) { lock (_gate) return Adapters.GetValueOrDefault(vmId) ?? []; }
    public IReadOnlyList<CimInstance> GuestNetworkConfigurations(string vmId) { lock (_gate) return Guests.GetValueOrDefault(vmId) ?? []; }
    public CimInstance? KvpExchange(string vmId) { lock (_gate) return Kvps.GetValueOrDefault(vmId); }

    public IDisposable Watch(Action<CimInstance> onIndication, Action<Exception> onError)
    {
        Connections++;
        (_onIndication, _onError) = (onIndication, onError);
        return new Unsubscribe(this);
    }

    public void Change(Action<FixtureHyperVCim> edit) { lock (_gate) edit(this); }

    private sealed class Unsubscribe(FixtureHyperVCim owner) : IDisposable
    {
        public void Dispose() => (owner._onIndication, owner._onError) = (null, null);
    }
}
