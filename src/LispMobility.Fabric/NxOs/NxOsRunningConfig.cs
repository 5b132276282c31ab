using System.Globalization;
using System.Text.RegularExpressions;

namespace LispMobility.Fabric.NxOs;

/// <summary>One HSRP group as the running configuration shows it.</summary>
internal sealed record NxOsHsrpGroup(int Group, string? VirtualIp, string? MacAddress, int? Priority);

/// <summary>The parts of an NX-OS SVI that the gateway intent cares about, parsed from <c>show running-config</c>.</summary>
internal sealed record NxOsSvi(bool Exists, bool AdminUp, bool ProxyArp, int HsrpVersion, IReadOnlyDictionary<int, NxOsHsrpGroup> Groups)
{
    public static readonly NxOsSvi Absent = new(false, false, false, 1, new Dictionary<int, NxOsHsrpGroup>());
}

/// <summary>Parses NX-OS running-configuration text (what <c>cli_ascii</c> returns).</summary>
internal static partial class NxOsRunningConfig
{
    /// <summary>The enabled features, from <c>show running-config | include ^feature</c>.</summary>
    public static IReadOnlySet<string> Features(string text) =>
        text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("feature ", StringComparison.Ordinal))
            .Select(l => l["feature ".Length..].Trim())
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The SVI <c>interface VlanN</c> block; NX-OS indents sub-modes by two spaces per level.</summary>
    public static NxOsSvi Svi(string text, int vlan)
    {
        var lines = text.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        var start = Array.FindIndex(lines, l => string.Equals(l.TrimEnd(), $"interface Vlan{vlan}", StringComparison.OrdinalIgnoreCase));
        if (start < 0) return NxOsSvi.Absent;

        bool adminUp = false, proxyArp = false;
        var version = 1;
        var groups = new Dictionary<int, NxOsHsrpGroup>();
        NxOsHsrpGroup? group = null;
        var groupIndent = -1;
        for (var i = start + 1; i < lines.Length; i++)
        {
            var raw = lines[i];
            if (raw.Trim().Length == 0) continue;
            var indent = raw.Length - raw.TrimStart().Length;
            if (indent == 0) break; // next top-level block
            var line = raw.Trim();
            if (group is not null && indent > groupIndent)
            {
                group = ParseGroupLine(group, line);
                groups[group.Group] = group;
                continue;
            }
            group = null;
            Match m;
            if (line == "no shutdown") adminUp = true;
            else if (line == "ip proxy-arp") proxyArp = true;
            else if ((m = HsrpVersion().Match(line)).Success) version = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            else if ((m = HsrpGroup().Match(line)).Success)
            {
                var number = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                group = groups.TryGetValue(number, out var known) ? known : new NxOsHsrpGroup(number, null, null, null);
                groups[number] = group;
                groupIndent = indent;
            }
        }
        return new NxOsSvi(true, adminUp, proxyArp, version, groups);
    }

    private static NxOsHsrpGroup ParseGroupLine(NxOsHsrpGroup group, string line)
    {
        Match m;
        if ((m = GroupIp().Match(line)).Success) return group with { VirtualIp = m.Groups[1].Value };
        if ((m = GroupMac().Match(line)).Success) return group with { MacAddress = m.Groups[1].Value.ToLowerInvariant() };
        if ((m = GroupPriority().Match(line)).Success) return group with { Priority = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) };
        return group;
    }

    [GeneratedRegex(@"^hsrp version (\d)$")]
    private static partial Regex HsrpVersion();

    [GeneratedRegex(@"^hsrp (\d+)(?: ipv4)?$")]
    private static partial Regex HsrpGroup();

    [GeneratedRegex(@"^ip (\d+\.\d+\.\d+\.\d+)$")]
    private static partial Regex GroupIp();

    [GeneratedRegex(@"^mac-address ([0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$")]
    private static partial Regex GroupMac();

    [GeneratedRegex(@"^priority (\d+)")]
    private static partial Regex GroupPriority();
}
