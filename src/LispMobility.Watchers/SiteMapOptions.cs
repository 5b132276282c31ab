namespace LispMobility.Watchers;

/// <summary>Configuration "Watchers:Sites": which site each hypervisor host or cluster stands in.</summary>
public sealed record SiteMapOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string Section = "Watchers:Sites";

    /// <summary>Host name or id → site; wins over the cluster mapping.</summary>
    public IDictionary<string, string> HostsToSites { get; init; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Cluster name or id → site.</summary>
    public IDictionary<string, string> ClustersToSites { get; init; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The site of a host: by any of its names or ids first, then by any of its cluster's, else null.</summary>
    public string? SiteOf(IEnumerable<string?> hostKeys, IEnumerable<string?> clusterKeys)
    {
        ArgumentNullException.ThrowIfNull(hostKeys);
        ArgumentNullException.ThrowIfNull(clusterKeys);
        foreach (var key in hostKeys)
        {
            if (key is not null && Lookup(HostsToSites, key) is { } site) return site;
        }
        foreach (var key in clusterKeys)
        {
            if (key is not null && Lookup(ClustersToSites, key) is { } site) return site;
        }
        return null;
    }

    /// <summary>The site of a host known by one name, without a cluster.</summary>
    public string? SiteOf(string host) => SiteOf([host], []);

    /// <summary>Every problem with this configuration, each naming its path; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Check(HostsToSites, nameof(HostsToSites), errors);
        Check(ClustersToSites, nameof(ClustersToSites), errors);
        return errors;
    }

    private static void Check(IDictionary<string, string> map, string name, List<string> errors)
    {
        foreach (var (key, site) in map)
        {
            if (string.IsNullOrWhiteSpace(key)) errors.Add($"{Section}:{name}: an entry has an empty host/cluster name");
            if (string.IsNullOrWhiteSpace(site)) errors.Add($"{Section}:{name}:{key}: the site name is empty");
        }
    }

    // Configuration binding may hand us a case-sensitive dictionary; operators do not care about case.
    private static string? Lookup(IDictionary<string, string> map, string key)
    {
        if (map.TryGetValue(key, out var site)) return site;
        foreach (var (k, v) in map)
        {
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) return v;
        }
        return null;
    }
}
