using System.Net;
using System.Net.NetworkInformation;

namespace LispMobility.Fabric;

/// <summary>The first-hop redundancy protocol whose virtual MAC a gateway carries.</summary>
public enum FhrpKind
{
    /// <summary>Cisco Hot Standby Router Protocol (RFC 2281 for v1).</summary>
    Hsrp,

    /// <summary>Virtual Router Redundancy Protocol (RFC 5798).</summary>
    Vrrp,
}

/// <summary>The gateway a dynamic-EID range needs on one site: the same virtual IP and MAC in every data center.</summary>
/// <param name="Vlan">The VLAN of the server-facing SVI (1–4094).</param>
/// <param name="InterfaceName">The SVI name on a switch, or the server-facing Linux interface the macvlan hangs off.</param>
/// <param name="VirtualIp">The gateway virtual IP.</param>
/// <param name="PrefixLength">Prefix length of the subnet the virtual IP serves.</param>
/// <param name="Fhrp">The FHRP whose virtual MAC is used.</param>
/// <param name="FhrpVersion">HSRP 1 or 2, VRRP 2 or 3.</param>
/// <param name="Group">HSRP group or VRRP VRID.</param>
/// <param name="VirtualMac">The virtual MAC; normally <see cref="Fabric.VirtualMac.For(FhrpKind, int, int)"/>.</param>
/// <param name="ProxyArp">Whether the gateway answers ARP for hosts of the range that live on the other site.</param>
/// <param name="Priority">FHRP priority, or null to leave the device default.</param>
public sealed record GatewayIntent(
    int Vlan,
    string InterfaceName,
    IPAddress VirtualIp,
    int PrefixLength,
    FhrpKind Fhrp,
    int FhrpVersion,
    int Group,
    PhysicalAddress VirtualMac,
    bool ProxyArp,
    int? Priority = null)
{
    /// <summary>Lists every rule the intent breaks (empty when it is valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Vlan is < 1 or > 4094) errors.Add($"VLAN must be 1–4094, not {Vlan}.");
        if (string.IsNullOrWhiteSpace(InterfaceName)) errors.Add("InterfaceName is required.");
        if (VirtualIp is null) { errors.Add("VirtualIp is required."); return errors; }
        var maxPrefix = VirtualIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32;
        if (PrefixLength < 1 || PrefixLength > maxPrefix) errors.Add($"PrefixLength must be 1–{maxPrefix} for {VirtualIp}, not {PrefixLength}.");
        var fhrp = Fabric.VirtualMac.Validate(Fhrp, FhrpVersion, Group, VirtualIp.AddressFamily);
        if (fhrp is not null) errors.Add(fhrp);
        if (VirtualMac is null || VirtualMac.GetAddressBytes().Length != 6) errors.Add("VirtualMac must be a 6-byte Ethernet address.");
        if (Priority is < 0 or > 255) errors.Add($"Priority must be 0–255, not {Priority}.");
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every rule the intent breaks.</summary>
    public void ThrowIfInvalid()
    {
        var errors = Validate();
        if (errors.Count > 0) throw new ArgumentException($"Gateway intent for VLAN {Vlan} is invalid: {string.Join(" ", errors)}");
    }
}

/// <summary>One change a driver will make; <paramref name="Payload"/> is exactly what will be sent, so a dry run shows it.</summary>
/// <param name="Target">Where it goes: an HTTP method and path, a sysctl file, or a netlink message type.</param>
/// <param name="Description">What it changes, in the operator's words.</param>
/// <param name="Payload">The exact request body, value, or netlink message fields.</param>
public sealed record GatewayChange(string Target, string Description, string Payload);

/// <summary>The exact changes that bring one device to a desired gateway state; empty when it is already there.</summary>
public sealed record GatewayPlan(string Driver, string Device, IReadOnlyList<GatewayChange> Changes)
{
    /// <summary>True when the device already matches the intent.</summary>
    public bool IsEmpty => Changes.Count == 0;

    /// <summary>The plan as an operator reads it in a dry run: each change's target, reason and exact payload.</summary>
    public string ToDryRun()
    {
        var text = new System.Text.StringBuilder($"{Driver} {Device}: ");
        if (IsEmpty) return text.Append("no changes").ToString();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Changes.Count} change(s)").AppendLine();
        foreach (var change in Changes)
            text.Append("  ").Append(change.Target).Append("  # ").AppendLine(change.Description)
                .Append("    ").AppendLine(change.Payload);
        return text.ToString();
    }
}

/// <summary>Whether a device matches an intent, and every difference found when it does not.</summary>
public sealed record GatewayVerification(bool Converged, IReadOnlyList<string> Differences)
{
    /// <summary>Builds a verification from the differences found (none means converged).</summary>
    public static GatewayVerification From(IReadOnlyList<string> differences) => new(differences.Count == 0, differences);
}

/// <summary>A site gateway driver: reads the device, plans exact changes, applies them, verifies the result.</summary>
public interface IGatewayDriver
{
    /// <summary>The driver's short name (<c>nxapi</c>, <c>restconf</c>, <c>linux</c>).</summary>
    string Name { get; }

    /// <summary>Reads current state and computes the exact changes that reach <paramref name="desired"/>.</summary>
    Task<GatewayPlan> PlanAsync(GatewayIntent desired, CancellationToken ct);

    /// <summary>Sends the plan's payloads as they are; throws <see cref="GatewayException"/> with the device's error text.</summary>
    Task ApplyAsync(GatewayPlan plan, CancellationToken ct);

    /// <summary>Reads current state again and lists every difference from <paramref name="desired"/>.</summary>
    Task<GatewayVerification> VerifyAsync(GatewayIntent desired, CancellationToken ct);
}

/// <summary>A device refused or could not be reached for a gateway operation; carries the device's own error text.</summary>
public sealed class GatewayException : Exception
{
    /// <summary>Creates the exception; the message names the device, the operation and the device's error.</summary>
    public GatewayException(string device, string operation, string deviceMessage, bool isTransient = false, Exception? innerException = null)
        : base($"{operation} on {device} failed: {deviceMessage}", innerException)
    {
        Device = device;
        Operation = operation;
        DeviceMessage = deviceMessage;
        IsTransient = isTransient;
    }

    /// <summary>Parameterless form for serializers and analyzers; prefer the full constructor.</summary>
    public GatewayException() : this("unknown device", "gateway operation", "failed") { }

    /// <summary>Message-only form; prefer the full constructor.</summary>
    public GatewayException(string message) : this("unknown device", "gateway operation", message) { }

    /// <summary>Message and cause; prefer the full constructor.</summary>
    public GatewayException(string message, Exception innerException) : this("unknown device", "gateway operation", message, false, innerException) { }

    /// <summary>The device name or address.</summary>
    public string Device { get; }

    /// <summary>What was being done (plan, apply, verify, and the request).</summary>
    public string Operation { get; }

    /// <summary>The device's own error text (NX-API <c>msg</c>, RESTCONF <c>error-message</c>, errno text).</summary>
    public string DeviceMessage { get; }

    /// <summary>True when retrying may help (timeouts, 502/503/504); false for refusals such as "% Invalid command".</summary>
    public bool IsTransient { get; }
}
