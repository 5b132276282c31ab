using System.Net;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>An agent whose Map-Resolver never answers: the management API's lookup is a 504 with the reason, never a 500.</summary>
public sealed class LookupTimeoutTests : IAsyncLifetime
{
    private const int ApiPort = 4394;
    private InProcessAgent? _agent;

    public async Task InitializeAsync()
    {
        // Nothing listens on 127.91.3.9: every Map-Request goes unanswered. The xTR's own timeout (1 s) is shorter than
        // any the API could add, which is the order that once surfaced as an unhandled TimeoutException (500).
        _agent = await InProcessAgent.StartAsync("lookup", p => $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["127.91.3.1:4342"], "Rlocs": [ { "Address": "127.91.3.1" } ],
            "MapServers": [ { "Address": "127.91.3.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.3.9:4342"],
            "DatabaseMappings": ["172.16.5.0/24"], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24" } ],
            "ResolveTimeout": "00:00:01" },
          "Mobility": { "Database": "{{p.Database}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);
    }

    [Fact]
    public async Task A_lookup_the_map_resolver_never_answers_is_a_504_naming_the_eid()
    {
        for (var i = 0; i < 3; i++)
        {
            var response = await _agent!.Api.GetAsync(new Uri("/api/lookup?eid=10.9.9.9", UriKind.Relative));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.GatewayTimeout, $"{(int)response.StatusCode}: {body}");
            Assert.Contains("no Map-Reply for 10.9.9.9 within 1 s", body, StringComparison.Ordinal);
        }
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
    }
}
