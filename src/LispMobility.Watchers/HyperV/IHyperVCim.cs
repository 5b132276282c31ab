namespace LispMobility.Watchers.HyperV;

/// <summary>
/// The few Hyper-V queries the watcher makes in <c>root\virtualization\v2</c> of one host, so that a test fixture can
/// stand in for <see cref="MmiHyperVCim"/> (Microsoft.Management.Infrastructure, which runs on Windows only).
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

    /// <summary>
    /// Subscribes to <see cref="HyperVIndications.Queries"/>: every indication (the instance with <c>TargetInstance</c>
    /// and <c>PreviousInstance</c> embedded) to <paramref name="onIndication"/>, a broken subscription (the host went
    /// away) to <paramref name="onError"/>.
    /// </summary>
    IDisposable Watch(Action<CimInstance> onIndication, Action<Exception> onError);
}
