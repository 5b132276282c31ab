using LispMobility.Fabric;
using LispMobility.Fabric.IosXe;
using LispMobility.Fabric.Linux;
using LispMobility.Fabric.NxOs;
using LispMobility.Watchers;
using LispMobility.Watchers.DataPlane;
using LispMobility.Watchers.HyperV;
using LispMobility.Watchers.Libvirt;
using LispMobility.Watchers.VCenter;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Service;

/// <summary>The composition root: the agent with the watchers, gateway drivers and OS adapters its configuration names.</summary>
/// <remarks>
/// One registration per watcher or driver, each only when its section is present; the agent takes them all as
/// <see cref="IEnumerable{T}"/>, so adding one is one line here. The container owns them and disposes them after the
/// host has stopped.
/// </remarks>
public static class LispMobilityServiceCollectionExtensions
{
    /// <summary>Binds and validates the configuration, then registers the agent and what it names.</summary>
    /// <exception cref="InvalidOperationException">The configuration has errors; the message lists every one with its path.</exception>
    public static IServiceCollection AddLispMobility(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        var config = AgentConfiguration.Load(configuration, errors);
        if (config is null)
            throw new InvalidOperationException($"{errors.Count} configuration error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
        return services.AddLispMobility(config);
    }

    internal static IServiceCollection AddLispMobility(this IServiceCollection services, AgentConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(config);
        services.AddSingleton(config);
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);

        // OS adapters.
        services.AddSingleton<IRouteTable>(_ => config.Runtime.RouteTable != "kernel" ? new InMemoryRouteTable()
            : OperatingSystem.IsLinux() ? new LinuxRouteTable()
            : OperatingSystem.IsWindows() ? new WindowsRouteTable()
            : new InMemoryRouteTable());

        // Watchers: each reports WorkloadObserved facts to the agent's stream.
        services.AddSingleton<MacDirectory>();
        if (config.VCenter is { } vc)
        {
            services.AddSingleton(sp => new VCenterWatcher(vc, config.Sites, Logger<VCenterWatcher>(sp)));
            services.AddSingleton<IWorkloadWatcher>(sp => sp.GetRequiredService<VCenterWatcher>());
        }

        if (config.HyperV is { } hv) services.AddSingleton<IWorkloadWatcher>(sp => new HyperVWatcher(hv, config.Sites, Logger<HyperVWatcher>(sp)));
        if (config.Libvirt is { } lv) services.AddSingleton<IWorkloadWatcher>(sp => new LibvirtWatcher(lv, config.Sites, Logger<LibvirtWatcher>(sp)));
        if (config.DataPlane is { } dp)
        {
            services.AddSingleton<IWorkloadWatcher>(sp =>
                new DataPlaneWatcher(dp, Logger<DataPlaneWatcher>(sp), directory: sp.GetRequiredService<MacDirectory>()));
        }

        // Gateway drivers of this site's switches.
        if (config.NxApi is { } nx) services.AddSingleton<IGatewayDriver>(sp => new NxApiDriver(nx, logger: Logger<NxApiDriver>(sp)));
        if (config.Restconf is { } rc) services.AddSingleton<IGatewayDriver>(sp => new RestconfDriver(rc, logger: Logger<RestconfDriver>(sp)));
        if (config.LinuxGateway is { } lg) services.AddSingleton<IGatewayDriver>(sp => new LinuxGatewayDriver(lg, logger: Logger<LinuxGatewayDriver>(sp)));

        services.AddSingleton<MobilityAgent>();
        services.AddHostedService(sp => sp.GetRequiredService<MobilityAgent>());
        return services;
    }

    private static ILogger<T> Logger<T>(IServiceProvider sp) => sp.GetRequiredService<ILogger<T>>();
}
