namespace LispMobility.Watchers.HyperV;

/// <summary>Configuration "Watchers:HyperV": the local Hyper-V host's watcher.</summary>
public sealed record HyperVOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:HyperV";

    /// <summary>This host's name as the site map knows it; the machine name when empty.</summary>
    public string? HostName { get; init; }

    /// <summary>How often running VMs without guest addresses (no integration services yet) are read again.</summary>
    public TimeSpan AddressRetryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Every problem with this configuration, each naming its path; empty when valid.</summary>
    public IReadOnlyList<string> Validate() =>
        AddressRetryInterval <= TimeSpan.Zero ? [$"{Section}:{nameof(AddressRetryInterval)}: must be positive"] : [];
}
