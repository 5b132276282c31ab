namespace LispMobility.Agent.Tests.Cli;

/// <summary>/healthz says why an agent is degraded: here its Map-Server never acknowledges a registration.</summary>
public sealed class HealthzTests : IAsyncLifetime
{
    private const int ApiPort = 4389; // one port per test class: classes run in parallel
    private InProcessAgent? _agent;

    public async Task InitializeAsync()
    {
        // Nothing listens on 127.91.4.9; registrations every second make three silent intervals come soon.
        _agent = await StartAsync("healthz", ApiPort, "127.91.4", "\"172.16.6.0/24\"");
    }

    /// <summary>
    /// An agent of site dc1 on <paramref name="net"/>.1 whose Map-Server, <paramref name="net"/>.9, never answers; it registers
    /// <paramref name="aggregates"/> (JSON strings, or none) and holds VMs of 172.16.6.0/24, registering every second.
    /// </summary>
    internal static Task<InProcessAgent> StartAsync(string name, int apiPort, string net, string aggregates) =>
        InProcessAgent.StartAsync(name, p => $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["{{net}}.1:4342"], "Rlocs": [ { "Address": "{{net}}.1" } ],
            "MapServers": [ { "Address": "{{net}}.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["{{net}}.9:4342"],
            "DatabaseMappings": [{{aggregates}}], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.6.0/24" } ],
            "RegisterInterval": "00:00:01", "QuickRegisterInterval": "00:00:01", "ResolveTimeout": "00:00:01" },
          "Mobility": { "Database": "{{p.Database}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.6.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{apiPort}}, "TokenFile": "{{p.TokenFile}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);

    [Fact]
    public async Task An_unreachable_map_server_makes_healthz_degraded_naming_it()
    {
        var body = "";
        for (var i = 0; i < 100 && !body.StartsWith("Degraded", StringComparison.Ordinal); i++)
        {
            body = await _agent!.Api.GetStringAsync(new Uri("/healthz", UriKind.Relative));
            await Task.Delay(100);
        }

        Assert.StartsWith("Degraded", body, StringComparison.Ordinal);
        Assert.Contains("Map-Server 127.91.4.9:4342 unreachable: no registration acknowledged for", body, StringComparison.Ordinal);
        Assert.Contains("map-server 127.91.4.9:4342: no registration acknowledged yet", body, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
    }
}

/// <summary>A standby site with nothing to register sends no registration, and its silent Map-Server is no reason to be degraded.</summary>
public sealed class HealthzStandbySiteTests : IAsyncLifetime
{
    private const int ApiPort = 4388; // one port per test class: classes run in parallel
    private InProcessAgent? _agent;

    public async Task InitializeAsync()
    {
        // No aggregate and no VM here: the xTR has nothing to register, the Map-Server (nothing on 127.91.5.9) hears nothing.
        _agent = await HealthzTests.StartAsync("healthz-standby", ApiPort, "127.91.5", "");
    }

    [Fact]
    public async Task Past_three_registration_intervals_with_nothing_to_register_healthz_stays_healthy()
    {
        await Task.Delay(TimeSpan.FromSeconds(4));
        var body = await _agent!.Api.GetStringAsync(new Uri("/healthz", UriKind.Relative));

        Assert.StartsWith("Healthy", body, StringComparison.Ordinal);
        Assert.Contains("map-server 127.91.5.9:4342: nothing registered yet: nothing to register", body, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
    }
}
