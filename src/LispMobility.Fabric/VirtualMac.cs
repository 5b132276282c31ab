using System.Globalization;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LispMobility.Fabric;

/// <summary>A validated FHRP group: kind, version and group number, and the virtual MAC they imply.</summary>
public sealed record FhrpGroup
{
    private FhrpGroup(FhrpKind kind, int version, int group, AddressFamily family)
    {
        Kind = kind;
        Version = version;
        Group = group;
        Family = family;
    }

    /// <summary>HSRP or VRRP.</summary>
    public FhrpKind Kind { get; }

    /// <summary>HSRP 1/2, VRRP 2/3.</summary>
    public int Version { get; }

    /// <summary>HSRP group or VRRP VRID.</summary>
    public int Group { get; }

    /// <summary>IPv4 or IPv6 gateway (HSRP and VRRP use different MAC blocks for IPv6).</summary>
    public AddressFamily Family { get; }

    /// <summary>The virtual MAC of this group.</summary>
    public PhysicalAddress VirtualMac => Fabric.VirtualMac.For(Kind, Version, Group, Family);

    /// <summary>Validates and creates a group; throws <see cref="ArgumentException"/> naming the rule broken.</summary>
    public static FhrpGroup Create(FhrpKind kind, int version, int group, AddressFamily family = AddressFamily.InterNetwork)
    {
        var error = Fabric.VirtualMac.Validate(kind, version, group, family);
        return error is null ? new FhrpGroup(kind, version, group, family) : throw new ArgumentException(error, nameof(group));
    }
}

/// <summary>The well-known virtual MAC blocks of HSRP and VRRP.</summary>
public static class VirtualMac
{
    /// <summary>
    /// The virtual MAC for an FHRP group: HSRPv1 0000.0c07.acXX (0–255), HSRPv2 0000.0c9f.fXXX (0–4095),
    /// HSRP IPv6 0005.73a0.0XXX (0–4095), VRRP 0000.5e00.01XX (IPv4) / 0000.5e00.02XX (IPv6) with VRID 1–255.
    /// </summary>
    public static PhysicalAddress For(FhrpKind kind, int version, int group, AddressFamily family = AddressFamily.InterNetwork)
    {
        var error = Validate(kind, version, group, family);
        if (error is not null) throw new ArgumentException(error, nameof(group));
        var g = (byte)(group & 0xFF);
        var hi = (byte)((group >> 8) & 0x0F);
        byte[] mac = (kind, version, family) switch
        {
            (FhrpKind.Hsrp, _, AddressFamily.InterNetworkV6) => [0x00, 0x05, 0x73, 0xA0, hi, g],
            (FhrpKind.Hsrp, 1, _) => [0x00, 0x00, 0x0C, 0x07, 0xAC, g],
            (FhrpKind.Hsrp, _, _) => [0x00, 0x00, 0x0C, 0x9F, (byte)(0xF0 | hi), g],
            (FhrpKind.Vrrp, _, AddressFamily.InterNetworkV6) => [0x00, 0x00, 0x5E, 0x00, 0x02, g],
            _ => [0x00, 0x00, 0x5E, 0x00, 0x01, g],
        };
        return new PhysicalAddress(mac);
    }

    /// <summary>Returns why a kind/version/group is invalid, or null when it is valid.</summary>
    public static string? Validate(FhrpKind kind, int version, int group, AddressFamily family = AddressFamily.InterNetwork)
    {
        if (family is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            return $"FHRP address family must be IPv4 or IPv6, not {family}.";
        return kind switch
        {
            FhrpKind.Hsrp when version is not (1 or 2) => $"HSRP version must be 1 or 2, not {version}.",
            FhrpKind.Hsrp when family == AddressFamily.InterNetworkV6 && version != 2 => "HSRP for IPv6 requires HSRP version 2.",
            FhrpKind.Hsrp when version == 1 && group is < 0 or > 255 => $"HSRPv1 group must be 0–255, not {group}.",
            FhrpKind.Hsrp when version == 2 && group is < 0 or > 4095 => $"HSRPv2 group must be 0–4095, not {group}.",
            FhrpKind.Vrrp when version is not (2 or 3) => $"VRRP version must be 2 or 3, not {version}.",
            FhrpKind.Vrrp when group is < 1 or > 255 => $"VRRP VRID must be 1–255, not {group}.",
            FhrpKind.Hsrp or FhrpKind.Vrrp => null,
            _ => $"FHRP kind {kind} is not known.",
        };
    }

    /// <summary>Cisco's dotted form, <c>0000.0c9f.f00a</c>, as NX-OS and IOS-XE print and accept it.</summary>
    public static string ToCiscoNotation(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var hex = Convert.ToHexStringLower(mac.GetAddressBytes());
        return hex.Length == 12 ? string.Create(CultureInfo.InvariantCulture, $"{hex[..4]}.{hex[4..8]}.{hex[8..]}") : hex;
    }

    /// <summary>Linux's colon form, <c>00:00:0c:9f:f0:0a</c>.</summary>
    public static string ToColonNotation(PhysicalAddress mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        return string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
