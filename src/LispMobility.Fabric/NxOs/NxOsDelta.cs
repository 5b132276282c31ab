namespace LispMobility.Fabric.NxOs;

/// <summary>What differs between an SVI and the intent, and the NX-OS configuration lines that close the gap.</summary>
internal sealed record NxOsDelta(IReadOnlyList<string> Differences, IReadOnlyList<string> Commands)
{
    public static NxOsDelta Compute(GatewayIntent want, IReadOnlySet<string> features, NxOsSvi svi)
    {
        var differences = new List<string>();
        var commands = new List<string>();
        void Feature(string name)
        {
            if (features.Contains(name)) return;
            differences.Add($"feature {name} is not enabled");
            commands.Add($"feature {name}");
        }
        Feature("interface-vlan");
        Feature("hsrp");

        var iface = $"interface vlan {want.Vlan}";
        var sviLines = new List<string>();
        if (!svi.Exists) differences.Add($"{iface} does not exist");
        if (!svi.AdminUp)
        {
            if (svi.Exists) differences.Add($"{iface} is shut down");
            sviLines.Add("no shutdown");
        }
        if (svi.ProxyArp != want.ProxyArp)
        {
            if (svi.Exists) differences.Add($"{iface}: ip proxy-arp is {(svi.ProxyArp ? "on" : "off")}, want {(want.ProxyArp ? "on" : "off")}");
            sviLines.Add(want.ProxyArp ? "ip proxy-arp" : "no ip proxy-arp");
        }
        if (svi.HsrpVersion != want.FhrpVersion)
        {
            if (svi.Exists) differences.Add($"{iface}: hsrp version is {svi.HsrpVersion}, want {want.FhrpVersion}");
            sviLines.Add($"hsrp version {want.FhrpVersion}");
        }

        var groupLines = new List<string>();
        var vip = want.VirtualIp.ToString();
        var mac = VirtualMac.ToCiscoNotation(want.VirtualMac);
        var hsrp = $"{iface}: hsrp {want.Group}";
        svi.Groups.TryGetValue(want.Group, out var group);
        if (svi.Exists && group is null) differences.Add($"{hsrp} is not configured");
        if (group?.VirtualIp != vip)
        {
            if (group is not null) differences.Add($"{hsrp} ip is {group.VirtualIp ?? "unset"}, want {vip}");
            groupLines.Add($"ip {vip}");
        }
        if (group?.MacAddress != mac)
        {
            if (group is not null) differences.Add($"{hsrp} mac-address is {group.MacAddress ?? "unset"}, want {mac}");
            groupLines.Add($"mac-address {mac}");
        }
        if (want.Priority is { } priority && group?.Priority != priority)
        {
            if (group is not null) differences.Add($"{hsrp} priority is {group.Priority?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}, want {priority}");
            groupLines.Add($"priority {priority}");
        }
        if (groupLines.Count > 0)
        {
            sviLines.Add($"hsrp {want.Group}");
            sviLines.AddRange(groupLines);
        }
        if (sviLines.Count > 0)
        {
            commands.Add(iface);
            commands.AddRange(sviLines);
        }
        return new NxOsDelta(differences, commands);
    }
}
