using System.Net;
using System.Net.NetworkInformation;
using System.Xml;
using System.Xml.Linq;

namespace LispMobility.Watchers.HyperV;

/// <summary>What the watcher knows of one VM at one moment, read from its CIM instances.</summary>
public sealed record HyperVVm(
    string Id,
    string Name,
    ushort EnabledState,
    ushort ReplicationMode,
    ushort FailedOverReplicationType,
    ushort? ReplicationState,
    string? PrimaryHost,
    string? RecoveryHost,
    IReadOnlyList<PhysicalAddress> Macs,
    IReadOnlyList<IPAddress> Addresses)
{
    /// <summary>Msvm_ComputerSystem.EnabledState: Enabled (running).</summary>
    public const ushort Running = 2;
    /// <summary>Msvm_ComputerSystem.ReplicationMode: test replica (a test failover's copy).</summary>
    public const ushort TestReplica = 3;

    /// <summary>True when the VM runs.</summary>
    public bool IsRunning => EnabledState == Running;

    /// <summary>Reads a VM's snapshot through <paramref name="cim"/>; null when it is not (any more) on this host.</summary>
    public static HyperVVm? Read(IHyperVCim cim, string vmId)
    {
        ArgumentNullException.ThrowIfNull(cim);
        var system = cim.VirtualMachine(vmId);
        return system is null ? null : From(system, cim);
    }

    /// <summary>Reads the rest of a VM's snapshot, given its Msvm_ComputerSystem.</summary>
    public static HyperVVm From(CimInstance system, IHyperVCim cim)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(cim);
        var id = system.String("Name") ?? "";
        return From(system, cim.ReplicationRelationship(id), cim.ReplicationSettings(id), cim.NetworkAdapters(id),
            cim.GuestNetworkConfigurations(id), cim.KvpExchange(id));
    }

    /// <summary>Builds a snapshot from the CIM instances of one VM.</summary>
    public static HyperVVm From(CimInstance system, CimInstance? relationship, CimInstance? settings, IEnumerable<CimInstance> adapters,
        IEnumerable<CimInstance> guestConfigurations, CimInstance? kvp)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(adapters);
        ArgumentNullException.ThrowIfNull(guestConfigurations);
        // Msvm_ComputerSystem.ReplicationState is deprecated since 8.1 but still filled: the fallback when the relationship is missing.
        var state = relationship?.Integer("ReplicationState") ?? system.Integer("ReplicationState");
        var macs = adapters.Select(a => a.String("Address")).Where(a => a is { Length: 12 })
            .Select(a => PhysicalAddress.TryParse(a, out var mac) ? mac : null).OfType<PhysicalAddress>().Distinct().ToArray();
        var addresses = guestConfigurations.SelectMany(c => c.Strings("IPAddresses")).ToList();
        if (addresses.Count == 0 && kvp is not null) addresses = KvpAddresses(kvp.Strings("GuestIntrinsicExchangeItems"));
        return new HyperVVm(
            system.String("Name") ?? "",
            system.String("ElementName") ?? "",
            (ushort)(system.Integer("EnabledState") ?? 0),
            (ushort)(system.Integer("ReplicationMode") ?? 0),
            (ushort)(system.Integer("FailedOverReplicationType") ?? 0),
            state is null ? null : (ushort)state,
            settings?.String("PrimaryHostSystem"),
            settings?.String("RecoveryHostSystem"),
            macs,
            addresses.Select(a => IPAddress.TryParse(a, out var ip) ? ip : null).OfType<IPAddress>()
                .Where(ip => !ip.IsIPv6LinkLocal).Distinct().ToArray());
    }

    // Each item is an embedded Msvm_KvpExchangeDataItem in CIM-XML; NetworkAddressIPv4/IPv6 hold ';'-separated lists.
    private static List<string> KvpAddresses(IReadOnlyList<string> items)
    {
        var result = new List<string>();
        foreach (var item in items)
        {
            XElement instance;
            try { instance = XElement.Parse(item); }
            catch (XmlException) { continue; }
            string? Value(string name) => instance.Elements("PROPERTY")
                .FirstOrDefault(p => (string?)p.Attribute("NAME") == name)?.Element("VALUE")?.Value;
            if (Value("Name") is "NetworkAddressIPv4" or "NetworkAddressIPv6" && Value("Data") is { } data)
                result.AddRange(data.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        return result;
    }
}
