namespace LispMobility.Watchers.Libvirt;

/// <summary>Configuration "Watchers:Libvirt": the KVM hosts this agent watches through libvirt.</summary>
public sealed record LibvirtOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:Libvirt";

    /// <summary>One entry per hypervisor host: qemu:///system here, qemu+ssh:// or qemu+tls:// for others.</summary>
    public IReadOnlyList<LibvirtConnectionOptions> Connections { get; init; } = [];

    /// <summary>
    /// Where interface addresses are read from, first that answers: "Agent" (the QEMU guest agent), "Lease" (libvirt's
    /// DHCP leases), "Arp" (the host's ARP table).
    /// </summary>
    public IReadOnlyList<string> AddressSources { get; init; } = [];

    /// <summary>The sources in use: <see cref="AddressSources"/>, or Agent, Lease, Arp.</summary>
    public IReadOnlyList<string> EffectiveAddressSources => AddressSources.Count > 0 ? AddressSources : ["Agent", "Lease", "Arp"];

    /// <summary>How often a running domain without addresses yet (booting, no lease) is read again.</summary>
    public TimeSpan AddressRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First wait before reconnecting to a host that refused or dropped the connection; doubled up to <see cref="ReconnectMax"/>.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between reconnection attempts.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a connection is checked alive (local drivers report no close).</summary>
    public TimeSpan AliveCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>virDomainInterfaceAddressesSource values of <see cref="EffectiveAddressSources"/>.</summary>
    internal IReadOnlyList<uint> SourceCodes => EffectiveAddressSources.Select(s => s.ToUpperInvariant() switch
    {
        "LEASE" => 0u,
        "AGENT" => 1u,
        _ => 2u,
    }).ToArray();

    /// <summary>
    /// Every problem with this configuration, each naming its path; empty when valid. Judged for Linux or not by
    /// <paramref name="forLinux"/> (default: this system); the library is looked for only when the file is for this system.
    /// </summary>
    public IReadOnlyList<string> Validate(bool? forLinux = null)
    {
        var errors = new List<string>();
        if (!(forLinux ?? OperatingSystem.IsLinux())) errors.Add($"{Section}: the libvirt watcher runs on Linux hypervisor hosts only (it needs libvirt.so.0)");
        else if (OperatingSystem.IsLinux() && !System.Runtime.InteropServices.NativeLibrary.TryLoad("libvirt.so.0", out _)) errors.Add($"{Section}: libvirt.so.0 is not installed: apt-get install libvirt0");
        if (Connections.Count == 0) errors.Add($"{Section}:{nameof(Connections)}: at least one connection, e.g. {{ \"Uri\": \"qemu:///system\" }}");
        for (var i = 0; i < Connections.Count; i++)
        {
            var uri = Connections[i].Uri;
            if (string.IsNullOrWhiteSpace(uri) || !uri.Contains(":/", StringComparison.Ordinal))
            {
                errors.Add($"{Section}:{nameof(Connections)}:{i}:Uri: '{uri}' is not a libvirt URI such as qemu:///system or qemu+ssh://root@kvm-02/system");
            }
        }

        for (var i = 0; i < AddressSources.Count; i++)
        {
            if (AddressSources[i].ToUpperInvariant() is not ("AGENT" or "LEASE" or "ARP")) errors.Add($"{Section}:{nameof(AddressSources)}:{i}: '{AddressSources[i]}' is not Agent, Lease or Arp");
        }

        if (AddressRetryInterval <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(AddressRetryInterval)}: must be positive");
        if (ReconnectMin <= TimeSpan.Zero || ReconnectMax < ReconnectMin) errors.Add($"{Section}:{nameof(ReconnectMin)}/{nameof(ReconnectMax)}: must be positive, the maximum not below the minimum");
        if (AliveCheckInterval <= TimeSpan.Zero) errors.Add($"{Section}:{nameof(AliveCheckInterval)}: must be positive");
        return errors;
    }
}

/// <summary>One libvirt connection (one hypervisor host).</summary>
public sealed record LibvirtConnectionOptions
{
    /// <summary>The libvirt URI.</summary>
    public string Uri { get; init; } = "";

    /// <summary>The host's name as the site map knows it; libvirt's hostname of the connection when empty.</summary>
    public string? Host { get; init; }
}
