using System.Globalization;
using System.Net;
using LispMobility.Fabric;
using LispMobility.Lisp.Addressing;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Mobility.Configuration;

/// <summary>The domain's configuration: dynamic-EID ranges, where they may live, and how moves run (section "Mobility").</summary>
public sealed record MobilityOptions
{
    /// <summary>Dynamic-EID ranges.</summary>
    public IReadOnlyList<DynamicEidRangeOptions> Ranges { get; init; } = [];

    /// <summary>The SQLite file of the move journal and the audit history.</summary>
    public string Database { get; init; } = "lispmobility.db";

    /// <summary>Moves of different EIDs that run at once.</summary>
    public int MaxParallelMoves { get; init; } = 64;

    /// <summary>A second move of one EID within this window after the last one is held until the window ends (flap damping).</summary>
    public TimeSpan HoldDown { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Attempts of a failed saga step before the move ends failed.</summary>
    public int StepAttempts { get; init; } = 3;

    /// <summary>First back-off between attempts (doubling, jittered).</summary>
    public TimeSpan StepBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>First wait before a move that failed for a transient cause is tried again (doubling, jittered, up to <see cref="RetryBackoffMax"/>).</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait between two tries of a failed move; it is retried until it converges or a newer move supersedes it.</summary>
    public TimeSpan RetryBackoffMax { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the reconciler compares the watchers, the mapping system and the xTR (also at start and on reconnecting to a Map-Server).</summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Audit rows older than this are deleted by the retention job.</summary>
    public TimeSpan AuditRetention { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Every problem at once, each naming its path; empty when valid.</summary>
    public IReadOnlyList<string> Validate(IReadOnlyCollection<string> knownSites, string path = "Mobility")
    {
        ArgumentNullException.ThrowIfNull(knownSites);
        var errors = new List<string>();
        static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        if (string.IsNullOrWhiteSpace(Database)) errors.Add($"{path}.Database: required (path of the SQLite file)");
        if (MaxParallelMoves < 1) errors.Add(I($"{path}.MaxParallelMoves: {MaxParallelMoves} must be at least 1"));
        if (StepAttempts < 1) errors.Add($"{path}.StepAttempts: must be at least 1");
        if (HoldDown < TimeSpan.Zero) errors.Add($"{path}.HoldDown: must not be negative");
        if (RetryBackoff <= TimeSpan.Zero || RetryBackoffMax < RetryBackoff) errors.Add($"{path}.RetryBackoff/RetryBackoffMax: the first must be positive and not above the max");
        if (ReconcileInterval < TimeSpan.FromSeconds(1) || ReconcileInterval > TimeSpan.FromDays(1)) errors.Add(I($"{path}.ReconcileInterval: {ReconcileInterval} must be between 1 second and 1 day (e.g. 00:01:00)"));
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var prefixes = new List<(EidPrefix, string)>();
        for (var i = 0; i < Ranges.Count; i++)
        {
            var r = Ranges[i];
            var rp = I($"{path}.Ranges[{i}]");
            if (string.IsNullOrWhiteSpace(r.Name)) errors.Add($"{rp}.Name: required");
            else if (!names.Add(r.Name)) errors.Add($"{rp}.Name: '{r.Name}' is configured twice");
            if (!EidPrefix.TryParse(r.Prefix, out var prefix)) errors.Add($"{rp}.Prefix: '{r.Prefix}' is not a prefix such as 172.16.4.0/24");
            else
            {
                foreach (var (other, name) in prefixes)
                {
                    if (other.Contains(prefix) || prefix.Contains(other)) errors.Add($"{rp}.Prefix: {prefix} overlaps range '{name}' ({other})");
                }

                prefixes.Add((prefix, r.Name));
            }

            if (r.Sites.Count == 0) errors.Add($"{rp}.Sites: list the sites allowed to host this range");
            foreach (var s in r.Sites.Where(s => !knownSites.Contains(s))) errors.Add($"{rp}.Sites: '{s}' is not a configured site ({string.Join(", ", knownSites)})");
            if (string.IsNullOrWhiteSpace(r.HomeSite) || !r.Sites.Contains(r.HomeSite, StringComparer.OrdinalIgnoreCase)) errors.Add($"{rp}.HomeSite: '{r.HomeSite}' must be one of the range's sites");
            if (r.Gateway is { } g)
            {
                if (!IPAddress.TryParse(g.VirtualIp, out var vip)) errors.Add($"{rp}.Gateway.VirtualIp: '{g.VirtualIp}' is not an IP address");
                else if (prefix != default && !prefix.Contains(LispAddress.FromIPAddress(vip))) errors.Add($"{rp}.Gateway.VirtualIp: {vip} is outside the range {prefix}");
                if (VirtualMac.Validate(g.Fhrp, g.FhrpVersion, g.Group) is { } problem) errors.Add($"{rp}.Gateway: {problem}");
            }
        }

        return errors;
    }
}

/// <summary>A dynamic-EID range: the addresses that may move, and where.</summary>
public sealed record DynamicEidRangeOptions
{
    /// <summary>Name ("vm-web"); the xTRs' dynamic-EID entries carry the same name.</summary>
    public string Name { get; init; } = "";

    /// <summary>The range, e.g. 172.16.4.0/24.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The site whose aggregate covers the range (moving there withdraws the /32).</summary>
    public string HomeSite { get; init; } = "";

    /// <summary>Sites allowed to host addresses of the range.</summary>
    public IReadOnlyList<string> Sites { get; init; } = [];

    /// <summary>Mobility mode.</summary>
    public MobilityMode Mode { get; init; } = MobilityMode.AcrossSubnet;

    /// <summary>The default gateway kept identical at every site, if the agent converges gateways.</summary>
    public GatewayOptions? Gateway { get; init; }
}

/// <summary>The range's default gateway: one virtual IP and MAC at every site.</summary>
public sealed record GatewayOptions
{
    /// <summary>VLAN of the SVI.</summary>
    public int Vlan { get; init; }

    /// <summary>Interface name (SVI, or Linux interface).</summary>
    public string Interface { get; init; } = "";

    /// <summary>Virtual IP.</summary>
    public string VirtualIp { get; init; } = "";

    /// <summary>Prefix length of the subnet.</summary>
    public int PrefixLength { get; init; } = 24;

    /// <summary>FHRP kind.</summary>
    public FhrpKind Fhrp { get; init; } = FhrpKind.Hsrp;

    /// <summary>FHRP version.</summary>
    public int FhrpVersion { get; init; } = 2;

    /// <summary>FHRP group / VRID.</summary>
    public int Group { get; init; } = 1;
}
