using System.Net;

namespace LispMobility.Watchers.DataPlane;

/// <summary>Asks the segment whether a host still answers, before anyone declares it gone from a site.</summary>
public interface ILivenessProbe
{
    /// <summary>True when the owner of <paramref name="address"/> answers an ARP probe (IPv4) or NS (IPv6).</summary>
    Task<bool> IsAliveAsync(IPAddress address, CancellationToken ct);
}
