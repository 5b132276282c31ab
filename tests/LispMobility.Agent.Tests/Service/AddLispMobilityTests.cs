using System.Text;
using LispMobility.Agent.Service;
using LispMobility.Fabric;
using LispMobility.Watchers;
using LispMobility.Watchers.Libvirt;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LispMobility.Agent.Tests.Service;

/// <summary>The composition root registers what the configuration names, and only that.</summary>
public sealed class AddLispMobilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-compose-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_site_with_no_watcher_or_driver_sections_gets_none_and_the_memory_route_table()
    {
        await using var sp = Compose(watchers: "").BuildServiceProvider();

        Assert.Empty(sp.GetServices<IWorkloadWatcher>());
        Assert.Empty(sp.GetServices<IGatewayDriver>());
        Assert.IsType<InMemoryRouteTable>(sp.GetRequiredService<IRouteTable>());
        Assert.Same(sp.GetRequiredService<MobilityAgent>(), sp.GetServices<IHostedService>().Single());
        Assert.Null(sp.GetRequiredService<MobilityAgent>().VCenter);
    }

    [Fact]
    public void A_watcher_section_is_one_registered_watcher_the_agent_receives()
    {
        var services = Compose(watchers: """
            , "Watchers": { "Sites": { "HostsToSites": { "kvm-dc1-01": "dc1" } },
                "Libvirt": { "Connections": [ { "Uri": "test:///default", "Host": "kvm-dc1-01" } ] } }
            """);

        Assert.Single(services, d => d.ServiceType == typeof(IWorkloadWatcher));
        using var sp = services.BuildServiceProvider();
        Assert.IsType<LibvirtWatcher>(Assert.Single(sp.GetServices<IWorkloadWatcher>()));
    }

    [Fact]
    public void A_bad_configuration_throws_with_every_error_and_its_path()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Agent:RouteTable"] = "disk" }).Build();

        var e = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddLispMobility(config));

        Assert.Contains("Xtr: section missing", e.Message, StringComparison.Ordinal);
        Assert.Contains("Agent.RouteTable: 'disk'", e.Message, StringComparison.Ordinal);
    }

    private ServiceCollection Compose(string watchers)
    {
        var json = $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["127.91.9.1:4342"], "Rlocs": [ { "Address": "127.91.9.1" } ],
            "MapServers": [ { "Address": "127.91.9.100:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.9.100:4342"],
            "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.9.0/24" } ] },
          "Mobility": { "Database": "{{Path.Combine(_dir, "agent.db").Replace("\\", "/", StringComparison.Ordinal)}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.9.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" } {{watchers}}
        }
        """;
        var config = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddLispMobility(config);
        return services;
    }
}
