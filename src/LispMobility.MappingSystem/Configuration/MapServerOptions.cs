using System.Globalization;
using System.Net;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;

namespace LispMobility.MappingSystem.Configuration;

/// <summary>Configuration of the embedded Map-Server / Map-Resolver (section "MapServer" of the agent's config).</summary>
/// <remarks>
/// Settable rather than init-only, as the records of its sites: the JSON source generator of the native Map-Server
/// (<see cref="MapServerFile"/>) binds init-only properties as constructor arguments and sets the ones a file leaves out to
/// null or zero instead of keeping these defaults.
/// </remarks>
public sealed record MapServerOptions
{
    /// <summary>Addresses to listen on, "address:port" or "[v6]:port"; none given means all IPv4 and IPv6 addresses on 4342.</summary>
    /// <remarks>Empty by default rather than pre-filled: configuration binding appends to a pre-filled list.</remarks>
    public IReadOnlyList<string> Listen { get; set; } = [];

    /// <summary>What is actually bound: <see cref="Listen"/>, or the default endpoints.</summary>
    public IReadOnlyList<string> EffectiveListen => Listen.Count > 0 ? Listen : ["0.0.0.0:4342", "[::]:4342"];

    /// <summary>The sites allowed to register.</summary>
    public IReadOnlyList<SiteOptions> Sites { get; set; } = [];

    /// <summary>How long a registration lives after its last valid Map-Register (RFC 9301 §8.2: 3 minutes).</summary>
    public TimeSpan RegistrationTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Nonces remembered per registrant under <see cref="ReplayProtection.Window"/>.</summary>
    public int ReplayWindowSize { get; set; } = 64;

    /// <summary>
    /// A registrant's replay state is forgotten when what it registered expired, or after this long without a Map-Register
    /// from it: an xTR that restarts with other nonces is never locked out for longer.
    /// </summary>
    public TimeSpan ReplayStateIdle { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>UDP port Map-Notifies go to; 0 sends them back to the Map-Register's source port.</summary>
    public int MapNotifyPort { get; set; } = 4342;

    /// <summary>First retransmission interval of an unsolicited Map-Notify.</summary>
    public TimeSpan NotifyRetransmitInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Retransmissions at the fixed interval before doubling starts.</summary>
    public int NotifyFixedRetries { get; set; } = 3;

    /// <summary>Further retransmissions, each interval doubled, before giving up.</summary>
    public int NotifyBackoffRetries { get; set; } = 3;

    /// <summary>How long a Map-Requester is remembered for SMR after a mapping changes.</summary>
    public TimeSpan RequesterMemory { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>At most one SMR per destination per this interval (RFC 9301 §6.1).</summary>
    public TimeSpan SmrInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Times an SMR is sent again, an interval apart, while the ITR has not asked for the EID since (its SMR-invoked Map-Request
    /// is the acknowledgement): one lost datagram must not leave an ITR on the old site until its map-cache entry expires.
    /// </summary>
    public int SmrRetries { get; set; } = 3;

    /// <summary>Map-Requests per second one requester may send before the rest are dropped.</summary>
    public double RequestsPerSecondPerRequester { get; set; } = 100;

    /// <summary>Burst of Map-Requests one requester may send at once.</summary>
    public int RequestBurstPerRequester { get; set; } = 200;

    /// <summary>
    /// Map-Requests per second from the address of an ETR registered here now (an xTR of a configured site): a DR failover
    /// verifies thousands of EIDs at once, and the SMRs of a bulk move make its ITRs ask again for each.
    /// </summary>
    public double RegisteredRequestsPerSecond { get; set; } = 20_000;

    /// <summary>Burst of Map-Requests from the address of an ETR registered here now.</summary>
    public int RegisteredRequestBurst { get; set; } = 20_000;

    /// <summary>Bound of the requesters remembered by the rate limiter and the SMR list.</summary>
    public int MaxTrackedRequesters { get; set; } = 100_000;

    /// <summary>
    /// Registrations the tables are sized for at start: the EID table and the expiry queue then take their first
    /// registrations without doubling into fresh arrays and copying (a mass failover or a restart registers them all at once,
    /// issue #18). Beyond it they grow as before; pages not yet used cost no resident memory.
    /// </summary>
    public int ExpectedRegistrations { get; set; } = 100_000;

    /// <summary>
    /// Receive loops per listen endpoint (each its own SO_REUSEPORT socket); 0 = one per processor. One by default: the
    /// registrations are applied under one lock, and a second loop made each registration cost 1.3–1.5× the server CPU on a
    /// 2-core host (docs/benchmarks.md, issue #18); more loops pay only where the MAC checks and sends need more cores.
    /// </summary>
    public int ReceiveLoops { get; set; } = 1;

    /// <summary>TTL of a negative reply for an address inside a site but not registered (minutes).</summary>
    public uint UnregisteredNegativeTtlMinutes { get; set; } = 1;

    /// <summary>TTL of a negative reply for an address outside every site (minutes).</summary>
    public uint NonEidNegativeTtlMinutes { get; set; } = 15;

    /// <summary>Every problem at once, each naming its path under <paramref name="path"/>; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string path = "MapServer")
    {
        var errors = new List<string>();
        for (var i = 0; i < Listen.Count; i++)
        {
            if (!IPEndPoint.TryParse(Listen[i], out var ep) || ep.Port == 0 && !Listen[i].EndsWith(":0", StringComparison.Ordinal))
            {
                errors.Add(Invariant($"{path}.Listen[{i}]: '{Listen[i]}' is not address:port (e.g. 0.0.0.0:4342 or [::]:4342)"));
            }
        }

        if (RegistrationTimeout <= TimeSpan.Zero) errors.Add($"{path}.RegistrationTimeout: must be positive");
        if (ReplayWindowSize is < 1 or > 4096) errors.Add($"{path}.ReplayWindowSize: must be 1 to 4096 nonces");
        if (ReplayStateIdle <= TimeSpan.Zero) errors.Add($"{path}.ReplayStateIdle: must be positive");
        if (MapNotifyPort is < 0 or > 65535) errors.Add(Invariant($"{path}.MapNotifyPort: {MapNotifyPort} is not a UDP port (0 = registrant's port)"));
        if (NotifyRetransmitInterval <= TimeSpan.Zero) errors.Add($"{path}.NotifyRetransmitInterval: must be positive");
        if (NotifyFixedRetries < 0 || NotifyBackoffRetries < 0) errors.Add($"{path}.NotifyFixedRetries/NotifyBackoffRetries: must not be negative");
        if (RequestsPerSecondPerRequester <= 0 || RequestBurstPerRequester < 1) errors.Add($"{path}.RequestsPerSecondPerRequester/RequestBurstPerRequester: must be positive");
        if (SmrRetries is < 0 or > 10) errors.Add(Invariant($"{path}.SmrRetries: {SmrRetries} must be 0 to 10"));
        if (RegisteredRequestsPerSecond <= 0 || RegisteredRequestBurst < 1) errors.Add($"{path}.RegisteredRequestsPerSecond/RegisteredRequestBurst: must be positive");
        if (MaxTrackedRequesters < 1) errors.Add($"{path}.MaxTrackedRequesters: must be positive");
        if (ExpectedRegistrations is < 0 or > 10_000_000) errors.Add(Invariant($"{path}.ExpectedRegistrations: {ExpectedRegistrations} must be 0 to 10000000"));
        if (ReceiveLoops is < 0 or > 64) errors.Add(Invariant($"{path}.ReceiveLoops: {ReceiveLoops} must be 0 (one per processor) to 64"));
        if (Sites.Count == 0) errors.Add($"{path}.Sites: no site configured; nothing could register");
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < Sites.Count; i++)
        {
            var site = Sites[i];
            var sp = Invariant($"{path}.Sites[{i}]");
            if (string.IsNullOrWhiteSpace(site.Name)) errors.Add($"{sp}.Name: required");
            else if (!names.Add(site.Name)) errors.Add($"{sp}.Name: '{site.Name}' is configured twice");
            errors.AddRange(site.Validate(sp));
        }

        return errors;
    }

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One site: who may register which EID-prefixes, with which keys, from which RLOCs.</summary>
public sealed record SiteOptions
{
    /// <summary>The site's name, as operators say it ("dc1").</summary>
    public string Name { get; set; } = "";

    /// <summary>EID-prefixes the site may register.</summary>
    public IReadOnlyList<SiteEidPrefixOptions> EidPrefixes { get; set; } = [];

    /// <summary>Authentication keys by key-id (several for rollover).</summary>
    public IReadOnlyList<SiteKeyOptions> Keys { get; set; } = [];

    /// <summary>When not empty, the only RLOCs the site may register.</summary>
    public IReadOnlyList<string> AllowedRlocs { get; set; } = [];

    /// <summary>
    /// Accept Map-Registers with nonce 0 and no M bit (RFC 9301 allows them) without the replay check. Off by default:
    /// a captured registration of such an xTR can then be replayed, e.g. to pull a moved EID back.
    /// </summary>
    public bool AcceptZeroNonce { get; set; }

    /// <summary>How this site's Map-Register nonces are checked for replays; see <see cref="Configuration.ReplayProtection"/>.</summary>
    public ReplayProtection ReplayProtection { get; set; } = ReplayProtection.Window;

    internal IEnumerable<string> Validate(string path)
    {
        if (!Enum.IsDefined(ReplayProtection)) yield return $"{path}.ReplayProtection: use Window, Monotonic or Off";
        if (EidPrefixes.Count == 0) yield return $"{path}.EidPrefixes: at least one EID-prefix is required";
        for (var i = 0; i < EidPrefixes.Count; i++)
        {
            if (!EidPrefix.TryParse(EidPrefixes[i].Prefix, out _))
            {
                yield return MapServerOptions.Invariant($"{path}.EidPrefixes[{i}].Prefix: '{EidPrefixes[i].Prefix}' is not a prefix such as 10.1.0.0/16 or [1000]10.1.0.0/16");
            }
        }

        if (Keys.Count == 0) yield return $"{path}.Keys: at least one key is required";
        var ids = new HashSet<byte>();
        for (var i = 0; i < Keys.Count; i++)
        {
            var k = Keys[i];
            var kp = MapServerOptions.Invariant($"{path}.Keys[{i}]");
            if (!ids.Add(k.KeyId)) yield return MapServerOptions.Invariant($"{kp}.KeyId: {k.KeyId} is configured twice");
            if (k.Algorithm is AuthAlgorithm.None || !LispAuthentication.IsKnown(k.Algorithm)) yield return $"{kp}.Algorithm: use HmacSha1_96, HmacSha256_128 or HmacSha256_128_HkdfSha256";
            if (string.IsNullOrEmpty(k.Key)) yield return $"{kp}.Key: the pre-shared key is empty";
        }

        for (var i = 0; i < AllowedRlocs.Count; i++)
        {
            if (!LispAddress.TryParse(AllowedRlocs[i], out _)) yield return MapServerOptions.Invariant($"{path}.AllowedRlocs[{i}]: '{AllowedRlocs[i]}' is not an IP address");
        }
    }
}

/// <summary>An EID-prefix of a site.</summary>
public sealed record SiteEidPrefixOptions
{
    /// <summary>"10.1.0.0/16" or "[1000]10.1.0.0/16".</summary>
    public string Prefix { get; set; } = "";

    /// <summary>Accept registrations of prefixes more specific than this one (the dynamic-EID /32s).</summary>
    public bool AcceptMoreSpecifics { get; set; }
}

/// <summary>One pre-shared key of a site.</summary>
public sealed record SiteKeyOptions
{
    /// <summary>Key ID the xTR puts in its Map-Registers.</summary>
    public byte KeyId { get; set; }

    /// <summary>The algorithm.</summary>
    public AuthAlgorithm Algorithm { get; set; } = AuthAlgorithm.HmacSha256_128;

    /// <summary>The pre-shared key (the UTF-8 bytes of the string, as Cisco's "authentication-key").</summary>
    public string Key { get; set; } = "";

    /// <inheritdoc />
    public override string ToString() => MapServerOptions.Invariant($"key-id {KeyId} {Algorithm} (secret not shown)");
}

/// <summary>How a site's Map-Register nonces guard against replays (RFC 9301 §5.6 leaves the rule to the Map-Server).</summary>
public enum ReplayProtection
{
    /// <summary>
    /// The default: a nonce seen among the registrant's last <see cref="MapServerOptions.ReplayWindowSize"/> is a replay.
    /// Interoperates with xTRs that draw random nonces (RFC 6833 §6.1); an xTR seen drawing them in order (16 rises in a row,
    /// as this project's xTRs do) is held to that order. Beyond the window, the MAC and the registration's lifetime bound
    /// what a replay can do.
    /// </summary>
    Window,

    /// <summary>Each nonce must be above the registrant's last one (the strictest; for xTRs known to draw increasing nonces).</summary>
    Monotonic,

    /// <summary>No replay check (the MAC still authenticates): for peers that reuse nonces.</summary>
    Off,
}
