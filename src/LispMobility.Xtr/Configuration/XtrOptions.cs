using System.Globalization;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;

namespace LispMobility.Xtr.Configuration;

/// <summary>How a dynamic-EID range reaches the other sites (Cisco's "lisp mobility" modes).</summary>
public enum MobilityMode
{
    /// <summary>No L2 extension: the gateway keeps one virtual IP/MAC everywhere and proxy-ARP answers for the moved host.</summary>
    AcrossSubnet,
    /// <summary>The subnet is stretched at layer 2 between the sites.</summary>
    ExtendedSubnet,
}

/// <summary>Configuration of the embedded xTR (section "Xtr" of the agent's config).</summary>
public sealed record XtrOptions
{
    /// <summary>The site this xTR serves (for logs and the audit trail).</summary>
    public string Site { get; init; } = "";

    /// <summary>Control-plane endpoints to listen on; none given means 0.0.0.0:4342.</summary>
    /// <remarks>Empty by default rather than pre-filled: configuration binding appends to a pre-filled list.</remarks>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>What is actually bound.</summary>
    public IReadOnlyList<string> EffectiveListen => Listen.Count > 0 ? Listen : ["0.0.0.0:4342"];

    /// <summary>The site's RLOCs.</summary>
    public IReadOnlyList<LocatorOptions> Rlocs { get; init; } = [];

    /// <summary>Map-Servers to register with.</summary>
    public IReadOnlyList<MapServerPeerOptions> MapServers { get; init; } = [];

    /// <summary>Map-Resolvers to send Map-Requests to ("address:port").</summary>
    public IReadOnlyList<string> MapResolvers { get; init; } = [];

    /// <summary>Static database-mappings: the site's aggregate prefixes, registered always.</summary>
    public IReadOnlyList<string> DatabaseMappings { get; init; } = [];

    /// <summary>Dynamic-EID ranges whose hosts may move in and out.</summary>
    public IReadOnlyList<DynamicEidOptions> DynamicEids { get; init; } = [];

    /// <summary>xTR-ID (32 hex digits); generated from the site name and RLOCs when empty.</summary>
    public string? XtrId { get; init; }

    /// <summary>Site-ID.</summary>
    public ulong SiteId { get; init; }

    /// <summary>Periodic Map-Register interval (RFC 9301: 60 s).</summary>
    public TimeSpan RegisterInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Interval during the quick-registration window after a change or restart.</summary>
    public TimeSpan QuickRegisterInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Length of the quick-registration window.</summary>
    public TimeSpan QuickRegisterWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First retransmission of an unacknowledged host registration.</summary>
    public TimeSpan RegisterRetransmitInitial { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap of the doubling retransmission interval.</summary>
    public TimeSpan RegisterRetransmitMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long <c>RegisterHostAsync</c> waits for every Map-Server before failing.</summary>
    public TimeSpan RegisterDeadline { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Record TTL written in Map-Registers and Map-Replies (minutes; Cisco's default 1440).</summary>
    public uint RecordTtlMinutes { get; init; } = 1440;

    /// <summary>Map-cache size bound; the least recently used entry goes first.</summary>
    public int MapCacheSize { get; init; } = 100_000;

    /// <summary>Minimum interval between Map-Requests for one prefix.</summary>
    public TimeSpan MapRequestInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Unanswered Map-Requests for one prefix before backing off.</summary>
    public int MapRequestRetries { get; init; } = 10;

    /// <summary>Back-off after <see cref="MapRequestRetries"/> unanswered requests.</summary>
    public TimeSpan MapRequestBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an awaited resolution (a lookup, a saga's verification) waits for its Map-Reply.</summary>
    public TimeSpan ResolveTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>At most one SMR per destination and EID per this interval.</summary>
    public TimeSpan SmrInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A map-cache entry used within this window counts as "in use" when soliciting remote ITRs after a move.</summary>
    public TimeSpan InUseWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The data plane (off by default).</summary>
    public XtrDataPlaneOptions DataPlane { get; init; } = new();

    /// <summary>RLOC-probe the remote locators in the map-cache; null follows <see cref="XtrDataPlaneOptions.Enabled"/> (only the data plane uses reachability).</summary>
    public bool? RlocProbing { get; init; }

    /// <summary>How often each remote locator in use is probed (RFC 9301 §7.1; Cisco's default is 60 s, ours answers a failure sooner).</summary>
    public TimeSpan RlocProbeInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Probes in a row a locator may leave unanswered before it goes down (it comes back up on its next answer).</summary>
    public int RlocProbeMissLimit { get; init; } = 3;

    /// <summary>Whether this xTR probes (the explicit setting, else whether the data plane runs).</summary>
    public bool ProbesRlocs => RlocProbing ?? DataPlane?.Enabled ?? false;

    /// <summary>Every problem at once, each naming its path; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string path = "Xtr", bool? forLinux = null)
    {
        var errors = new List<string>();
        static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        if (string.IsNullOrWhiteSpace(Site)) errors.Add($"{path}.Site: required (the site this xTR serves)");
        for (var i = 0; i < Listen.Count; i++)
        {
            if (!IPEndPoint.TryParse(Listen[i], out _)) errors.Add(I($"{path}.Listen[{i}]: '{Listen[i]}' is not address:port"));
        }

        if (Rlocs.Count == 0) errors.Add($"{path}.Rlocs: at least one RLOC is required");
        for (var i = 0; i < Rlocs.Count; i++)
        {
            if (!LispAddress.TryParse(Rlocs[i].Address, out _)) errors.Add(I($"{path}.Rlocs[{i}].Address: '{Rlocs[i].Address}' is not an IP address"));
        }

        if (MapServers.Count == 0) errors.Add($"{path}.MapServers: at least one Map-Server is required");
        for (var i = 0; i < MapServers.Count; i++)
        {
            var m = MapServers[i];
            var mp = I($"{path}.MapServers[{i}]");
            if (!IPEndPoint.TryParse(m.Address, out var ep) || ep.Port == 0) errors.Add($"{mp}.Address: '{m.Address}' is not address:port (e.g. 192.0.2.1:4342)");
            if (m.Algorithm == AuthAlgorithm.None || !LispAuthentication.IsKnown(m.Algorithm)) errors.Add($"{mp}.Algorithm: use HmacSha1_96, HmacSha256_128 or HmacSha256_128_HkdfSha256");
            if (string.IsNullOrEmpty(m.Key)) errors.Add($"{mp}.Key: the pre-shared key is empty");
        }

        for (var i = 0; i < MapResolvers.Count; i++)
        {
            if (!IPEndPoint.TryParse(MapResolvers[i], out var ep) || ep.Port == 0) errors.Add(I($"{path}.MapResolvers[{i}]: '{MapResolvers[i]}' is not address:port"));
        }

        for (var i = 0; i < DatabaseMappings.Count; i++)
        {
            if (!EidPrefix.TryParse(DatabaseMappings[i], out _)) errors.Add(I($"{path}.DatabaseMappings[{i}]: '{DatabaseMappings[i]}' is not an EID prefix"));
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < DynamicEids.Count; i++)
        {
            var d = DynamicEids[i];
            var dp = I($"{path}.DynamicEids[{i}]");
            if (string.IsNullOrWhiteSpace(d.Name)) errors.Add($"{dp}.Name: required");
            else if (!names.Add(d.Name)) errors.Add($"{dp}.Name: '{d.Name}' is configured twice");
            if (!EidPrefix.TryParse(d.Prefix, out _)) errors.Add($"{dp}.Prefix: '{d.Prefix}' is not an EID prefix");
            if (d.MapNotifyGroup is { Length: > 0 } group)
            {
                if (DynamicEidOptions.ParseGroup(group) is null) errors.Add($"{dp}.MapNotifyGroup: '{group}' is not an IPv4 multicast address (224.0.0.0/4), with an optional :port");
                else if (d.Mode != MobilityMode.ExtendedSubnet) errors.Add($"{dp}.MapNotifyGroup: only an extended-subnet range has a map-notify group (across subnets no L2 joins the sites); set Mode to ExtendedSubnet or remove it");
                if (string.IsNullOrEmpty(d.MapNotifyGroupKey)) errors.Add($"{dp}.MapNotifyGroupKey: required with a MapNotifyGroup (every xTR on the stretched LAN shares it)");
            }
        }

        if (XtrId is { Length: > 0 } x && !UInt128.TryParse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _)) errors.Add($"{path}.XtrId: '{x}' is not 32 hex digits");
        if (RegisterInterval <= TimeSpan.Zero || QuickRegisterInterval <= TimeSpan.Zero) errors.Add($"{path}.RegisterInterval/QuickRegisterInterval: must be positive");
        if (RegisterRetransmitInitial <= TimeSpan.Zero || RegisterRetransmitMax < RegisterRetransmitInitial) errors.Add($"{path}.RegisterRetransmitInitial/Max: initial must be positive and not above the max");
        if (RegisterDeadline <= TimeSpan.Zero) errors.Add($"{path}.RegisterDeadline: must be positive");
        if (ResolveTimeout <= TimeSpan.Zero) errors.Add($"{path}.ResolveTimeout: must be positive");
        if (MapCacheSize < 1) errors.Add($"{path}.MapCacheSize: must be positive");
        // Under 100 ms a probe round could not wait for a reply across a WAN; over an hour a dead locator goes unnoticed.
        if (RlocProbeInterval < TimeSpan.FromMilliseconds(100) || RlocProbeInterval > TimeSpan.FromHours(1)) errors.Add(I($"{path}.RlocProbeInterval: {RlocProbeInterval} is outside 00:00:00.1-01:00:00"));
        if (RlocProbeMissLimit is < 1 or > 100) errors.Add(I($"{path}.RlocProbeMissLimit: {RlocProbeMissLimit} is outside 1-100"));
        errors.AddRange((DataPlane ?? new()).Validate($"{path}.DataPlane", forLinux));
        return errors;
    }
}

/// <summary>One RLOC of the site.</summary>
public sealed record LocatorOptions
{
    /// <summary>The RLOC address.</summary>
    public string Address { get; init; } = "";

    /// <summary>Unicast priority (lower is preferred; 255 = do not use).</summary>
    public byte Priority { get; init; } = 1;

    /// <summary>Unicast weight among locators of one priority.</summary>
    public byte Weight { get; init; } = 100;
}

/// <summary>A Map-Server and the key this xTR registers with.</summary>
public sealed record MapServerPeerOptions
{
    /// <summary>"address:port".</summary>
    public string Address { get; init; } = "";

    /// <summary>Key ID.</summary>
    public byte KeyId { get; init; }

    /// <summary>Algorithm.</summary>
    public AuthAlgorithm Algorithm { get; init; } = AuthAlgorithm.HmacSha256_128;

    /// <summary>The pre-shared key.</summary>
    public string Key { get; init; } = "";

    /// <summary>Send the truncated 96/128-bit MAC (only for Map-Servers that want it).</summary>
    public bool TruncateMac { get; init; }

    /// <summary>Ask the Map-Server to answer Map-Requests itself (P bit).</summary>
    public bool ProxyReply { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Address} key-id {KeyId} {Algorithm}";
}

/// <summary>A dynamic-EID range: hosts inside it may move in and out of this site.</summary>
public sealed record DynamicEidOptions
{
    /// <summary>Name of the range ("vm-web").</summary>
    public string Name { get; init; } = "";

    /// <summary>The range, e.g. 172.16.4.0/24.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The mobility mode.</summary>
    public MobilityMode Mode { get; init; } = MobilityMode.AcrossSubnet;

    /// <summary>The VM-facing interface host routes point to (Linux name or Windows alias); none = routes are not programmed.</summary>
    public string? Interface { get; init; }

    /// <summary>
    /// Extended-subnet only: the IPv4 multicast group ("239.1.1.1:4342", port 4342 when left out) where the xTRs sharing the
    /// stretched subnet tell each other at once that a host of the range registered here; null = none.
    /// </summary>
    public string? MapNotifyGroup { get; init; }

    /// <summary>
    /// The key that signs and verifies what goes on the map-notify group (HMAC-SHA-256-128, key-id 1): shared by every xTR on
    /// the stretched LAN, whatever its site — each site's Map-Server key is known to that site only.
    /// </summary>
    public string? MapNotifyGroupKey { get; init; }

    /// <summary>The group as an endpoint, or null (validated options only).</summary>
    public IPEndPoint? MapNotifyGroupEndpoint => MapNotifyGroup is { Length: > 0 } g ? ParseGroup(g) : null;

    internal static IPEndPoint? ParseGroup(string text) =>
        IPEndPoint.TryParse(text, out var ep) && ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && IsMulticast(ep.Address)
            ? ep.Port == 0 ? new IPEndPoint(ep.Address, 4342) : ep
            : null;

    private static bool IsMulticast(IPAddress address) => (address.GetAddressBytes()[0] & 0xF0) == 0xE0;
}
