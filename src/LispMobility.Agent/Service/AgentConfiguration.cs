using LispMobility.Fabric;
using LispMobility.MappingSystem.Configuration;
using LispMobility.Mobility.Configuration;
using LispMobility.Watchers;
using LispMobility.Watchers.DataPlane;
using LispMobility.Watchers.HyperV;
using LispMobility.Watchers.Libvirt;
using LispMobility.Watchers.VCenter;
using LispMobility.Xtr.Configuration;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Service;

/// <summary>Everything <c>lispmobility run</c> reads from its configuration, bound and validated as one.</summary>
internal sealed record AgentConfiguration(
    MapServerOptions? MapServer, XtrOptions Xtr, MobilityOptions Mobility, SiteMapOptions Sites, VCenterOptions? VCenter, HyperVOptions? HyperV,
    LibvirtOptions? Libvirt, DataPlaneOptions? DataPlane, NxApiOptions? NxApi, RestconfOptions? Restconf, LinuxGatewayOptions? LinuxGateway, AgentRuntimeOptions Runtime)
{
    /// <summary>
    /// Binds every section; returns null with every error (each with its path) when anything is wrong. OS-only settings are
    /// judged for <paramref name="os"/> (this system by default).
    /// </summary>
    public static AgentConfiguration? Load(IConfiguration root, List<string> errors, Configuration.TargetOs? os = null)
    {
        var target = os ?? Configuration.TargetOsRules.Current;
        var ms = Bind<MapServerOptions>(root, "MapServer", errors);
        if (ms is not null) errors.AddRange(ms.Validate());
        var xtr = Bind<XtrOptions>(root, "Xtr", errors);
        var mobility = Bind<MobilityOptions>(root, "Mobility", errors) ?? new MobilityOptions();
        if (xtr is null) errors.Add("Xtr: section missing (the site, its RLOCs, Map-Servers and dynamic-EID ranges)");
        else
        {
            xtr = Configuration.DynamicEidRanges.Derive(xtr, mobility, errors);
            errors.AddRange(xtr.Validate(forLinux: target == Configuration.TargetOs.Linux));
        }

        // Only an embedded Map-Server knows every site. An agent registering with a remote one knows its own site alone, and
        // its ranges must still name the other sites the EIDs move between (they are served by the other sites' agents).
        var knownSites = ms is not null
            ? ms.Sites.Select(s => s.Name).Append(xtr?.Site).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList()
            : mobility.Ranges.SelectMany(r => r.Sites).Append(xtr?.Site).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        errors.AddRange(mobility.Validate(knownSites));
        // A relative database path is allowed (beside the working directory); one absolute for the other system is a mistake.
        if (Configuration.TargetOsRules.IsOtherSystemsPath(target, mobility.Database))
        {
            errors.Add($"Mobility:Database: {Configuration.TargetOsRules.NotAbsolute(target, mobility.Database, target == Configuration.TargetOs.Windows ? @"C:\ProgramData\LispMobility\lispmobility.db" : "/var/lib/lispmobility/lispmobility.db")}");
        }
        var sites = Bind<SiteMapOptions>(root, SiteMapOptions.Section, errors) ?? new SiteMapOptions();
        errors.AddRange(sites.Validate());
        var vcenter = Bind<VCenterOptions>(root, VCenterOptions.Section, errors);
        if (vcenter is not null) errors.AddRange(vcenter.Validate());
        var hyperv = Bind<HyperVOptions>(root, HyperVOptions.Section, errors);
        if (hyperv is not null) errors.AddRange(hyperv.Validate(onWindows: target == Configuration.TargetOs.Windows));
        var libvirt = Bind<LibvirtOptions>(root, LibvirtOptions.Section, errors);
        if (libvirt is not null) errors.AddRange(libvirt.Validate(forLinux: target == Configuration.TargetOs.Linux));
        var dataPlane = Bind<DataPlaneOptions>(root, DataPlaneOptions.Section, errors);
        if (dataPlane is not null)
        {
            // The sniffer sees hosts arriving here: they are at this agent's site unless told otherwise.
            if (dataPlane.Site is null && xtr is not null) dataPlane = dataPlane with { Site = xtr.Site };
            errors.AddRange(dataPlane.Validate(forLinux: target == Configuration.TargetOs.Linux));
        }

        var nxapi = Bind<NxApiOptions>(root, "Fabric:NxApi", errors);
        if (nxapi is not null) errors.AddRange(nxapi.Validate("Fabric:NxApi"));
        var restconf = Bind<RestconfOptions>(root, "Fabric:Restconf", errors);
        if (restconf is not null) errors.AddRange(restconf.Validate("Fabric:Restconf"));
        var linux = Bind<LinuxGatewayOptions>(root, "Fabric:Linux", errors);
        if (linux is not null) errors.AddRange(linux.Validate("Fabric:Linux"));
        var runtime = Bind<AgentRuntimeOptions>(root, "Agent", errors) ?? new AgentRuntimeOptions();
        errors.AddRange(runtime.Validate(target));
        return errors.Count > 0 || xtr is null ? null : new AgentConfiguration(ms, xtr, mobility, sites, vcenter, hyperv, libvirt, dataPlane, nxapi, restconf, linux, runtime);
    }

    internal static T? Bind<T>(IConfiguration root, string section, List<string> errors) where T : class
    {
        var s = root.GetSection(section);
        if (!s.Exists()) return null;
        try
        {
            return s.Get<T>(o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            errors.Add($"{section}: {e.Message}");
            return null;
        }
    }
}

/// <summary>Agent-wide settings (section "Agent").</summary>
internal sealed record AgentRuntimeOptions
{
    /// <summary>"kernel" programs host routes (rtnetlink on Linux, the IP Helper API on Windows), "memory" keeps them in memory only.</summary>
    public string RouteTable { get; init; } = OperatingSystem.IsLinux() || OperatingSystem.IsWindows() ? "kernel" : "memory";

    /// <summary>Cron expression of the audit retention job (Quartz syntax).</summary>
    public string RetentionCron { get; init; } = "0 15 3 * * ?";

    /// <summary>Cron expression of the vCenter reconciliation sweep.</summary>
    public string ReconciliationCron { get; init; } = "0 0/5 * * * ?";

    /// <summary>Scheduled DR drills (dry runs: the plan is computed, checked by lookup and audited; nothing moves).</summary>
    public IReadOnlyList<DrillOptions> Drills { get; init; } = [];

    public IReadOnlyList<string> Validate(Configuration.TargetOs os)
    {
        var errors = new List<string>();
        if (RouteTable is not ("kernel" or "memory")) errors.Add($"Agent.RouteTable: '{RouteTable}' must be kernel or memory");
        foreach (var (cron, path) in new[] { (RetentionCron, "Agent.RetentionCron"), (ReconciliationCron, "Agent.ReconciliationCron") }
                     .Concat(Drills.Select((d, i) => (d.Cron, $"Agent.Drills[{i}].Cron"))))
        {
            if (!Quartz.CronExpression.TryParse(cron, out _)) errors.Add($"{path}: '{cron}' is not a Quartz cron expression (e.g. 0 15 3 * * ?)");
        }

        return errors;
    }
}

/// <summary>A scheduled DR drill.</summary>
internal sealed record DrillOptions
{
    public string Cron { get; init; } = "";
    public string From { get; init; } = "";
    public string To { get; init; } = "";
}
