namespace LispMobility.Watchers.DataPlane;

/// <summary>Configuration "Watchers:DataPlane": the AF_PACKET sniffer on the server-facing interfaces.</summary>
public sealed record DataPlaneOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:DataPlane";

    /// <summary>Server-facing interfaces to capture on.</summary>
    public IList<string> Interfaces { get; init; } = [];

    /// <summary>The site this agent stands in, put on every fact.</summary>
    public string? Site { get; init; }

    /// <summary>The host name put on facts; the machine name when empty.</summary>
    public string? HostName { get; init; }

    /// <summary>Capture unicast to other hosts too (first packets of unknown hosts); ND multicast is captured regardless.</summary>
    public bool Promiscuous { get; init; }

    /// <summary>A (MAC, IP) announced again within this window is not reported again.</summary>
    public TimeSpan DedupWindow { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>At most this many (MAC, IP) sightings are remembered per interface.</summary>
    public int TableCapacity { get; init; } = 4096;

    /// <summary>Sustained reports per second per interface; the rest of a storm is counted and dropped.</summary>
    public double ReportsPerSecond { get; init; } = 100;

    /// <summary>Reports allowed in a burst above the sustained rate.</summary>
    public int ReportBurst { get; init; } = 200;

    /// <summary>How long one liveness probe waits for an answer.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Probes sent before a host is declared silent.</summary>
    public int ProbeAttempts { get; init; } = 3;

    /// <summary>Every problem with this configuration, each naming its path; empty when valid. With <paramref name="forLinux"/> false (a file for Windows) the watcher itself is one.</summary>
    public IReadOnlyList<string> Validate(bool? forLinux = null)
    {
        var errors = new List<string>();
        if (forLinux == false) errors.Add($"{Section}: the data-plane watcher (ARP/ND sniffing) runs on Linux only; on Windows the Hyper-V or vCenter watcher reports moves");
        if (Interfaces.Count == 0) errors.Add($"{Section}:{nameof(Interfaces)}: at least one interface is required");
        for (var i = 0; i < Interfaces.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(Interfaces[i]) || Interfaces[i].Length > 15)
                errors.Add($"{Section}:{nameof(Interfaces)}:{i}: '{Interfaces[i]}' is not a Linux interface name (1-15 characters)");
        }
        if (DedupWindow <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(DedupWindow)}: must be positive");
        if (TableCapacity is < 16 or > 1_000_000) errors.Add($"{Section}:{nameof(TableCapacity)}: must be between 16 and 1000000");
        if (ReportsPerSecond <= 0) errors.Add($"{Section}:{nameof(ReportsPerSecond)}: must be positive");
        if (ReportBurst < 1) errors.Add($"{Section}:{nameof(ReportBurst)}: must be at least 1");
        if (ProbeTimeout <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(ProbeTimeout)}: must be positive");
        if (ProbeAttempts < 1) errors.Add($"{Section}:{nameof(ProbeAttempts)}: must be at least 1");
        return errors;
    }
}
