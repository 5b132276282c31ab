using System.Text.Json;
using LispMobility.Agent.Tests.Cli;
using LispMobility.Platform.Routing;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;

namespace LispMobility.Agent.Tests.Service;

/// <summary>
/// Scheduled DR drills against a live agent: the Quartz job fires, plans exactly as the failover does (so a drill with
/// nothing to move fails), looks the planned EIDs up and moves nothing.
/// </summary>
public sealed class DrillJobTests : IAsyncLifetime
{
    private const int ApiPort = 4393;
    // The agent's clock runs a year behind the machine's: what it stamps shows which of the two it read.
    private static readonly TimeSpan Behind = TimeSpan.FromDays(365);
    private InProcessAgent _agent = null!;

    /// <summary>The system's clock, shifted: timers and timestamps run as the system's, so the agent works as usual.</summary>
    private sealed class ShiftedClock(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + by;
    }

    public async Task InitializeAsync() =>
        _agent = await InProcessAgent.StartAsync("drill", p => $$"""
            {
              "MapServer": { "Listen": ["127.91.2.9:4342"], "Sites": [
                { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true }, { "Prefix": "172.16.5.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
                { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
              "Xtr": { "Site": "dc1", "Listen": ["127.91.2.1:4342"], "Rlocs": [ { "Address": "127.91.2.1" } ],
                "MapServers": [ { "Address": "127.91.2.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.2.9:4342"],
                "DatabaseMappings": ["172.16.5.0/24"] },
              "Mobility": { "Database": "{{p.Database}}",
                "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc2", "Sites": ["dc1", "dc2"] } ] },
              "Agent": { "RouteTable": "memory", "Drills": [ { "Cron": "* * * * * ?", "From": "dc2", "To": "dc1" } ] },
              "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
              "Log": { "File": false, "Console": false, "Journald": "false" }
            }
            """, new ShiftedClock(-Behind));

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    [Fact]
    public async Task A_drill_with_nothing_to_move_is_audited_as_failed_with_the_planners_reason()
    {
        var drill = await FirstDrillAsync(_ => true);

        Assert.Equal(("failed", "dc2", "dc1"), (drill.GetProperty("outcome").GetString(), drill.GetProperty("fromSite").GetString(), drill.GetProperty("toSite").GetString()));
        Assert.StartsWith("drill: nothing to move from dc2 to dc1: this agent knows no EID at dc2", drill.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_drill_looks_up_what_the_failover_would_move_and_moves_nothing()
    {
        await using var dc2 = new XtrNode(new XtrOptions
        {
            Site = "dc2", Listen = ["127.91.2.2:4342"], Rlocs = [new LocatorOptions { Address = "127.91.2.2" }],
            MapServers = [new MapServerPeerOptions { Address = "127.91.2.9:4342", KeyId = 1, Key = "k2" }], MapResolvers = ["127.91.2.9:4342"],
            DatabaseMappings = ["172.16.4.7/32"],
        }, new InMemoryRouteTable());
        dc2.Start();

        var drill = await FirstDrillAsync(r => r.GetProperty("outcome").GetString() == "ok");

        Assert.Equal("drill dc2 -> dc1: 1 EID(s) would move, 0 left; 1 answered a lookup", drill.GetProperty("detail").GetString());
        using var audit = JsonDocument.Parse(await _agent.Api.GetStringAsync(new Uri("/api/moves?limit=1000", UriKind.Relative)));
        Assert.All(audit.RootElement.EnumerateArray(), r => Assert.Equal("drill", r.GetProperty("kind").GetString()));
        using var registrations = JsonDocument.Parse(await _agent.Api.GetStringAsync(new Uri("/api/registrations", UriKind.Relative)));
        var held = registrations.RootElement.GetProperty("sites").EnumerateArray()
            .SelectMany(s => s.GetProperty("registrations").EnumerateArray().Select(r => (Site: s.GetProperty("site").GetString(), Eid: r.GetProperty("eid").GetString())))
            .Where(r => r.Eid == "172.16.4.7/32").ToList();
        Assert.Equal([("dc2", "172.16.4.7/32")], held);
    }

    [Fact]
    public async Task A_drill_is_audited_at_the_time_of_the_agents_clock()
    {
        var drill = await FirstDrillAsync(_ => true);

        var at = drill.GetProperty("time").GetDateTimeOffset();
        Assert.True(at < DateTimeOffset.UtcNow - Behind / 2, $"stamped {at:o}, not by the agent's clock a year behind");
    }

    // The cron fires every second: the newest audited drill that matches.
    private async Task<JsonElement> FirstDrillAsync(Func<JsonElement, bool> wanted)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using var doc = JsonDocument.Parse(await _agent.Api.GetStringAsync(new Uri("/api/moves?newest=true&limit=50", UriKind.Relative)));
            var found = doc.RootElement.EnumerateArray().Where(r => r.GetProperty("kind").GetString() == "drill" && wanted(r)).ToList();
            if (found.Count > 0) return found[0].Clone();
            Assert.True(DateTime.UtcNow < deadline, "no such drill was audited: " + doc.RootElement);
            await Task.Delay(100);
        }
    }
}
