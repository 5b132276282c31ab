using System.Net;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Security;
using LispMobility.Agent.Service;
using Microsoft.Extensions.Configuration;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>An agent whose Map-Resolver never answers: the management API's lookup is a 504 with the reason, never a 500.</summary>
public sealed class LookupTimeoutTests : IAsyncLifetime
{
    private const int ApiPort = 4394;
    private readonly string _dir = Directory.CreateTempSubdirectory("lispmobility-lookup-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private Task<int>? _agent;
    private HttpClient? _api;

    public async Task InitializeAsync()
    {
        var token = Path.Combine(_dir, "token");
        ApiToken.Create(token);
        var config = Path.Combine(_dir, "agent.json");
        // Nothing listens on 127.91.3.9: every Map-Request goes unanswered. The xTR's own timeout (1 s) is shorter than
        // any the API could add, which is the order that once surfaced as an unhandled TimeoutException (500).
        await File.WriteAllTextAsync(config, $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["127.91.3.1:4342"], "Rlocs": [ { "Address": "127.91.3.1" } ],
            "MapServers": [ { "Address": "127.91.3.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.3.9:4342"],
            "DatabaseMappings": ["172.16.5.0/24"], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24" } ],
            "ResolveTimeout": "00:00:01" },
          "Mobility": { "Database": "{{Path.Combine(_dir, "agent.db").Replace("\\", "/", StringComparison.Ordinal)}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{token.Replace("\\", "/", StringComparison.Ordinal)}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);
        _agent = RunCommand.RunAsync(new FileInfo(config), _stop.Token);
        var root = new ConfigurationBuilder().AddJsonFile(config).Build();
        var options = ManagementApiOptions.FromConfiguration(root, out _)!;
        _api = ManagementApi.CreateClient(options, ApiToken.Read(options.TokenFile));
        for (var i = 0; i < 200; i++)
        {
            if (_agent.IsCompleted) Assert.Fail($"the agent exited with {await _agent}");
            try
            {
                if ((await _api.GetAsync(new Uri("/healthz", UriKind.Relative))).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        Assert.Fail("the agent's management API never answered");
    }

    [Fact]
    public async Task A_lookup_the_map_resolver_never_answers_is_a_504_naming_the_eid()
    {
        for (var i = 0; i < 3; i++)
        {
            var response = await _api!.GetAsync(new Uri("/api/lookup?eid=10.9.9.9", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.GatewayTimeout, $"{(int)response.StatusCode}: {body}");
            Assert.Contains("no Map-Reply for 10.9.9.9 within 1 s", body, StringComparison.Ordinal);
        }
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        await _stop.CancelAsync();
        if (_agent is not null) Assert.Equal(0, await _agent.WaitAsync(TimeSpan.FromSeconds(20)));
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
