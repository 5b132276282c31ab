using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Watchers.DataPlane;

/// <summary>
/// MAC → IP addresses, learned from other watchers' facts (and the sniffer's own ARP/ND sightings), so that a RARP —
/// which carries only a MAC — can be reported with the workload's addresses.
/// </summary>
public sealed class MacDirectory
{
    private readonly ConcurrentDictionary<PhysicalAddress, IReadOnlyList<IPAddress>> _addresses = new();

    /// <summary>Remembers the addresses of every MAC of a fact that has addresses.</summary>
    public void Learn(WorkloadObserved fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (fact.Addresses.Count == 0) return;
        foreach (var mac in fact.Macs) _addresses[mac] = fact.Addresses;
    }

    /// <summary>The most MACs learned from sightings, so an ARP storm cannot grow the directory without end.</summary>
    public const int MaxSightedMacs = 65536;

    /// <summary>Adds one address seen on the wire to a MAC's list (ignored once <see cref="MaxSightedMacs"/> MACs are known).</summary>
    public void Learn(PhysicalAddress mac, IPAddress address)
    {
        if (_addresses.Count >= MaxSightedMacs && !_addresses.ContainsKey(mac)) return;
        _addresses.AddOrUpdate(mac, [address], (_, known) => known.Contains(address) || known.Count >= 16 ? known : [.. known, address]);
    }

    /// <summary>The addresses known for a MAC, empty when none.</summary>
    public IReadOnlyList<IPAddress> Lookup(PhysicalAddress mac) => _addresses.TryGetValue(mac, out var list) ? list : [];
}
