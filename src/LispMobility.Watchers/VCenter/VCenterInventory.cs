using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Watchers.VCenter;

/// <summary>What the watcher knows of one VM; <see cref="LastRunningHostId"/> lets a DR power-on name where it ran before.</summary>
internal sealed record VmState(string Id, string Name, string? HostId, bool PoweredOn, IReadOnlyList<PhysicalAddress> Macs,
    IReadOnlyList<IPAddress> Addresses, string? LastRunningHostId = null);

/// <summary>A host, its cluster and the site the configuration puts it in.</summary>
internal sealed record HostPlacement(string Id, string Name, string? ClusterId, string? ClusterName, string? Site);

/// <summary>
/// The vCenter inventory as last seen (from the feed or a reconciliation) and the rule that turns a VM's new state
/// into a fact: only a change of placement, power or guest addresses is news. Not thread-safe: the watcher serializes.
/// </summary>
internal sealed class VCenterInventory(SiteMapOptions sites)
{
    private readonly Dictionary<string, HostPlacement> _hosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, VmState> _vms = new(StringComparer.Ordinal);

    public IReadOnlyCollection<VmState> Vms => _vms.Values;

    public void SetHosts(IEnumerable<HostPlacement> hosts)
    {
        _hosts.Clear();
        foreach (var host in hosts) _hosts[host.Id] = host;
    }

    public HostPlacement Host(string? id) =>
        id is null ? new HostPlacement("", "", null, null, null)
        : _hosts.TryGetValue(id, out var host) ? host
        : new HostPlacement(id, id, null, null, sites.SiteOf([id], []));

    public VmState? Get(string id) => _vms.GetValueOrDefault(id);

    /// <summary>Records the VM's new state and returns the fact it makes, if any.</summary>
    public WorkloadObserved? Apply(VmState next, long timestamp)
    {
        _vms.TryGetValue(next.Id, out var previous);
        // guest.net empties when a VM powers off or Tools stop: the last known addresses stay the VM's EIDs.
        if (next.Addresses.Count == 0 && previous is not null) next = next with { Addresses = previous.Addresses };
        if (next.Macs.Count == 0 && previous is not null) next = next with { Macs = previous.Macs };
        var lastRunning = previous?.PoweredOn == true ? previous.HostId : previous?.LastRunningHostId;
        next = next with { LastRunningHostId = lastRunning };
        _vms[next.Id] = next;

        if (previous is null) return next.PoweredOn ? Fact(next, WorkloadChange.Discovered, timestamp) : null;
        var moved = previous.HostId != next.HostId;
        return (previous.PoweredOn, next.PoweredOn) switch
        {
            (true, true) when moved => Fact(next, WorkloadChange.Migrated, timestamp, previous.HostId),
            (false, true) => Fact(next, WorkloadChange.PoweredOn, timestamp, lastRunning != next.HostId ? lastRunning : null),
            (true, false) => Fact(next, WorkloadChange.PoweredOff, timestamp),
            (true, true) when !previous.Addresses.ToHashSet().SetEquals(next.Addresses) => Fact(next, WorkloadChange.Discovered, timestamp),
            _ => null,
        };
    }

    /// <summary>Forgets a VM (deleted, or left the view); a running one is reported gone.</summary>
    public WorkloadObserved? Remove(string id, long timestamp) =>
        _vms.Remove(id, out var previous) && previous.PoweredOn ? Fact(previous, WorkloadChange.Gone, timestamp) : null;

    private WorkloadObserved Fact(VmState vm, WorkloadChange change, long timestamp, string? previousHostId = null)
    {
        var host = Host(vm.HostId);
        var previous = previousHostId is null ? null : Host(previousHostId);
        return new WorkloadObserved(vm.Id, vm.Name, vm.Macs, vm.Addresses, host.Name, host.Site, change, WorkloadSources.VCenter, timestamp,
            previous?.Name, previous?.Site);
    }
}
