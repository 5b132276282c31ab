using System.Globalization;
using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.Configuration;

/// <summary>
/// The xTR's data plane on Linux (RFC 9300): a TUN device for the remote EID space, UDP 4341 on each RLOC. Off by
/// default: without it the agent does the control plane and host routes only and the site's routers carry traffic
/// (always so on Windows).
/// </summary>
public sealed record XtrDataPlaneOptions
{
    /// <summary>Encapsulate and decapsulate here (Linux, root or CAP_NET_ADMIN + CAP_NET_RAW).</summary>
    public bool Enabled { get; init; }

    /// <summary>
    /// How the ITR gets the packets routed to the remote EID space: <c>tun</c> (the default), a TUN device read a packet per
    /// read; or <c>veth</c>, a veth pair whose far end the ITR reads through a TPACKET_V3 ring of shared memory, a block of
    /// packets per wake-up and no syscall per packet (faster for small packets; a block waits up to 1 ms for more packets
    /// under light traffic, so that much latency is added at low rates, and each ITR queue holds an 8 MB ring).
    /// </summary>
    public string Device { get; init; } = "tun";

    /// <summary>
    /// The interface the remote EID space is routed to: the TUN device, or the veth pair's near end (its far end is named
    /// with a trailing 'p'; a veth left under this name by an earlier run is replaced).
    /// </summary>
    public string TunName { get; init; } = "lisp0";

    /// <summary>Whether <see cref="Device"/> is the veth pair read through a packet ring.</summary>
    public bool UsesVeth => string.Equals(Device, "veth", StringComparison.OrdinalIgnoreCase);

    /// <summary>The MTU of the links toward the RLOCs; the TUN's MTU is 36 (IPv4 RLOCs) or 56 (IPv6) less.</summary>
    public int LinkMtu { get; init; } = 1500;

    /// <summary>The remote EID prefixes to route into the TUN (e.g. the other sites' EID space, or 0.0.0.0/0 for all).</summary>
    public IReadOnlyList<string> RemoteEidPrefixes { get; init; } = [];

    /// <summary>
    /// Packets to a destination without a map-cache entry held until its Map-Reply (at most <c>Xtr:ResolveTimeout</c>);
    /// 0 drops them, counted. Eight covers a TCP handshake's retries or a ping burst.
    /// </summary>
    public int MissQueueDepth { get; init; } = 8;

    /// <summary>Destinations whose packets may be held at once (each takes <see cref="MissQueueDepth"/> × <see cref="LinkMtu"/> bytes, allocated at start).</summary>
    public int MissQueueDestinations { get; init; } = 64;

    /// <summary>
    /// Batch the TUN's reads and writes through io_uring (one syscall per batch instead of one per packet); false, or a
    /// kernel that refuses io_uring (logged), reads and writes one packet per syscall. Off where io_uring is disallowed by policy.
    /// </summary>
    public bool IoUring { get; init; } = true;

    /// <summary>
    /// Offer the kernel checksum and TCP segmentation offload on the TUN (IFF_VNET_HDR): TCP hands the ITR super-packets of
    /// up to 64 KB, read once and cut into segments here, instead of one read per segment. False reads every segment
    /// from the TUN; a kernel that refuses the offloads is logged and works as false.
    /// </summary>
    public bool Offloads { get; init; } = true;

    /// <summary>
    /// The segments the ITR cuts from one TCP super-packet, and the second and later packets of one flow in a batch read
    /// from the TUN, leave through a UDP socket of the flow's outer source port as one UDP GSO send (UDP_SEGMENT) instead
    /// of one raw send each, and the ETR's UDP 4341 socket takes such runs whole (UDP_GRO) where the path kept them. Those
    /// outer packets carry a computed UDP checksum (GSO needs one; RFC 9300 §5.3 allows it). A port in use by another
    /// program, or a kernel that refuses, falls back to the raw send for those packets. False sends every outer packet
    /// raw, with UDP checksum 0.
    /// </summary>
    public bool UdpOffloads { get; init; } = true;

    /// <summary>
    /// TUN queues, each read by its own ITR thread (IFF_MULTI_QUEUE; the kernel keeps a flow on one queue); 0, the
    /// default, is one per core, at most 8.
    /// </summary>
    public int Queues { get; init; }

    /// <summary>
    /// The kernel fast path (BPF programs on the TUN's egress and the RLOC interfaces' ingress, Linux 6.6 or later): flows
    /// whose destination has a map-cache entry with IPv4 RLOCs are encapsulated, and data for this site's EIDs
    /// decapsulated, in the kernel, super-packets whole; misses, ICMP errors, IPv6 RLOCs and anything the programs do not
    /// take go through the user-space data plane as before. "auto" (the default) uses it where the kernel takes it and
    /// says once why not otherwise; "on" makes a refusal a start error; "bulk" is "auto" with the ITR program taking TCP
    /// super-packets only (single packets are encapsulated in user space, which sends a burst of one flow as one UDP GSO
    /// send: cheaper where the kernel's per-packet path is dear, as in some VMs); "off" keeps everything in user space.
    /// The TUN device only (not the veth pair).
    /// </summary>
    public string FastPath { get; init; } = "auto";

    /// <summary>The fast path's decapsulation device (a VXLAN device it creates); empty: the TUN's name with an "x" (its 15th character replaced by it).</summary>
    public string FastPathDevice { get; init; } = "";

    /// <summary>That device's UDP port; VXLAN from the network to it is dropped (counted as a foreign tunnel).</summary>
    public int FastPathPort { get; init; } = 4340;

    /// <summary>The decapsulation device's name in effect.</summary>
    public string EffectiveFastPathDevice => string.IsNullOrEmpty(FastPathDevice) ? TunName[..Math.Min(TunName.Length, 14)] + "x" : FastPathDevice;

    /// <summary>The queues to open: <see cref="Queues"/>, or one per core (at most 8) when it is 0.</summary>
    public int EffectiveQueues => Queues > 0 ? Queues : Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Every problem, each naming its path; OS-only rules judged for Linux or not by <paramref name="forLinux"/> (default: this system).</summary>
    public IReadOnlyList<string> Validate(string path, bool? forLinux = null)
    {
        var errors = new List<string>();
        if (!Enabled) return errors;
        if (!(forLinux ?? OperatingSystem.IsLinux())) errors.Add($"{path}.Enabled: the data plane runs on Linux only (elsewhere the site's routers carry traffic)");
        if (string.IsNullOrWhiteSpace(TunName) || TunName.Length > 15 || TunName.Any(c => c is '/' or ' ' || char.IsControl(c)))
        {
            errors.Add($"{path}.TunName: '{TunName}' is not an interface name (1-15 characters, no '/' or spaces)");
        }

        if (!UsesVeth && !string.Equals(Device, "tun", StringComparison.OrdinalIgnoreCase)) errors.Add($"{path}.Device: '{Device}' is neither 'tun' nor 'veth'");
        else if (UsesVeth && TunName.Length > 14) errors.Add($"{path}.TunName: '{TunName}' is longer than 14 characters, and the veth pair's far end adds a 'p'");
        if (FastPath is not ("auto" or "on" or "bulk" or "off")) errors.Add($"{path}.FastPath: '{FastPath}' is none of auto, on, bulk, off");
        if (FastPathDevice.Length > 15 || FastPathDevice.Any(c => c is '/' or ' ' || char.IsControl(c)) || FastPathDevice == TunName)
        {
            errors.Add($"{path}.FastPathDevice: '{FastPathDevice}' is not an interface name of its own (up to 15 characters, no '/' or spaces, not the TUN's)");
        }

        if (FastPathPort is < 1 or > 65535 or 4341 or 4342) errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.FastPathPort: {FastPathPort} is not a free UDP port (1-65535, not LISP's 4341 or 4342)"));
        if (LinkMtu is < 1336 or > 65535) errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.LinkMtu: {LinkMtu} is outside 1336-65535 (the TUN must still carry IPv6's 1280 after 56 bytes of encapsulation)"));
        if (MissQueueDepth is < 0 or > 64) errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.MissQueueDepth: {MissQueueDepth} is outside 0-64 (0 drops packets of a miss)"));
        if (Queues is < 0 or > 64) errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.Queues: {Queues} is outside 0-64 (0 is one per core)"));
        if (MissQueueDestinations is < 1 or > 1024) errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.MissQueueDestinations: {MissQueueDestinations} is outside 1-1024"));
        for (var i = 0; i < RemoteEidPrefixes.Count; i++)
        {
            if (!EidPrefix.TryParse(RemoteEidPrefixes[i], out var p) || !p.Address.IsIp || p.InstanceId is not null)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{path}.RemoteEidPrefixes[{i}]: '{RemoteEidPrefixes[i]}' is not an IP prefix (such as 10.13.0.0/24)"));
            }
        }

        return errors;
    }
}
