using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Watchers;

/// <summary>Why a watcher reports a workload: the kind of event it saw, not a decision about the network.</summary>
public enum WorkloadChange
{
    /// <summary>First seen (inventory, or a frame from an unknown host on the data plane).</summary>
    Discovered,
    /// <summary>Live-migrated (vMotion, Hyper-V live migration) onto <see cref="WorkloadObserved.Host"/>.</summary>
    Migrated,
    /// <summary>Powered on at <see cref="WorkloadObserved.Host"/>.</summary>
    PoweredOn,
    /// <summary>Powered off (still placed on <see cref="WorkloadObserved.Host"/>).</summary>
    PoweredOff,
    /// <summary>A disaster-recovery failover made the replica at this host the running copy.</summary>
    Failover,
    /// <summary>A failback made the original primary the running copy again.</summary>
    Failback,
    /// <summary>No longer answers at this host after a liveness probe, or deleted from the inventory.</summary>
    Gone,
}

/// <summary>One fact: workload W is now on host H (at site S when the watcher knows the site).</summary>
/// <param name="WorkloadId">The hypervisor's id (vCenter moref, Hyper-V VM GUID) or, from the data plane, the MAC.</param>
/// <param name="Timestamp">A monotonic timestamp from the watcher's <see cref="TimeProvider.GetTimestamp"/>.</param>
/// <param name="Interface">The interface a data-plane frame arrived on.</param>
public sealed record WorkloadObserved(
    string WorkloadId,
    string Name,
    IReadOnlyList<PhysicalAddress> Macs,
    IReadOnlyList<IPAddress> Addresses,
    string Host,
    string? Site,
    WorkloadChange Change,
    string Source,
    long Timestamp,
    string? PreviousHost = null,
    string? PreviousSite = null,
    string? Interface = null);

/// <summary>The source names watchers put in <see cref="WorkloadObserved.Source"/>.</summary>
public static class WorkloadSources
{
    /// <summary>The vCenter watcher.</summary>
    public const string VCenter = "vcenter";
    /// <summary>The Hyper-V watcher.</summary>
    public const string HyperV = "hyperv";
    /// <summary>The libvirt (KVM) watcher.</summary>
    public const string Libvirt = "libvirt";
    /// <summary>The AF_PACKET sniffer.</summary>
    public const string DataPlane = "dataplane";
    /// <summary>The in-memory inventory of labs and system tests.</summary>
    public const string Simulated = "simulated";
}
