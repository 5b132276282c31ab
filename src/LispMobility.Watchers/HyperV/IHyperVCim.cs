namespace LispMobility.Watchers.HyperV;

/// <summary>
/// The few Hyper-V queries the watcher makes in <c>root\virtualization\v2</c>, so that a WS-Man/CIM transport (or a
/// test fixture) can stand in for <c>System.Management</c>.
/// </summary>
public interface IHyperVCim
{
    /// <summary><c>Msvm_ComputerSystem</c> instances of virtual machines (Caption 'Virtual Machine'), not the host.</summary>
    IReadOnlyList<CimInstance> VirtualMachines();

    /// <summary>One VM's <c>Msvm_ComputerSystem</c>, null when it is not on this host.</summary>
    CimInstance? VirtualMachine(string vmId);

    /// <summary>The VM's <c>Msvm_ReplicationRelationship</c> (InstanceID <c>Microsoft:&lt;vmid&gt;\HVR\0</c>), null when not replicated.</summary>
    CimInstance? ReplicationRelationship(string vmId);

    /// <summary>The VM's <c>Msvm_ReplicationSettingData</c> (primary and recovery hosts), null when not replicated.</summary>
    CimInstance? ReplicationSettings(string vmId);

    /// <summary>The VM's <c>Msvm_SyntheticEthernetPortSettingData</c> instances (MACs in <c>Address</c>).</summary>
    IReadOnlyList<CimInstance> NetworkAdapters(string vmId);

    /// <summary>The VM's <c>Msvm_GuestNetworkAdapterConfiguration</c> instances (<c>IPAddresses</c>).</summary>
    IReadOnlyList<CimInstance> GuestNetworkConfigurations(string vmId);

    /// <summary>The VM's <c>Msvm_KvpExchangeComponent</c> (<c>GuestIntrinsicExchangeItems</c>), null without integration services.</summary>
    CimInstance? KvpExchange(string vmId);

    /// <summary>Subscribes to VM creation/modification/deletion (WITHIN 2) and the VMMS-Admin live-migration events.</summary>
    IDisposable Watch(Action<CimChange> onChange);
}
