using LispMobility.Platform.Routing;
using LispMobility.Agent.Cli;
using LispMobility.Xtr;
using LispMobility.Xtr.Configuration;
using LispMobility.Xtr.Routing;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>
/// failover/failback against a live DR-site agent (dc2, with the embedded Map-Server): the dry run is refused exactly
/// like the real run, nothing to move is not success, and a source site whose xTR still answers an RLOC probe is not failed over without --force; a dead one is, at once.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class FailoverCommandTests : IAsyncLifetime
{
    private const int ApiPort = 4398;
    private InProcessAgent _agent = null!;

    public async Task InitializeAsync() => _agent = await InProcessAgent.StartAsync("failover", p => $$"""
        {
          "MapServer": { "Listen": ["127.91.7.1:4342"], "Sites": [
            { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
            { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
          "Xtr": { "Site": "dc2", "Listen": ["127.91.7.2:4342"], "Rlocs": [ { "Address": "127.91.7.2" } ],
            "MapServers": [ { "Address": "127.91.7.1:4342", "KeyId": 1, "Key": "k2" } ], "MapResolvers": ["127.91.7.1:4342"] },
          "Mobility": { "Database": "{{p.Database}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    public static TheoryData<string, string, string[], int, string> Refused() => new()
    {
        { "dc9", "dc2", [], 2, "lispmobility: 400 Bad Request: site 'dc9' is in no range's Sites (dc1, dc2)" },
        { "dc2", "dc2", [], 2, "lispmobility: 400 Bad Request: --from and --to are the same site (dc2); name the failed site and the one that takes over" },
        { "dc1", "dc1", [], 2, "lispmobility: 400 Bad Request: --from and --to are the same site (dc1); name the failed site and the one that takes over; " +
                              "this agent serves dc2, not 'dc1'; run the failover on dc1's agent, which re-registers the EIDs there" },
        { "dc1", "dc2", ["10.9.9.9", "172.16.4.9"], 2, "lispmobility: 400 Bad Request: 10.9.9.9: outside every dynamic-EID range" },
        { "dc1", "dc2", [], 3, "lispmobility: 409 Conflict: nothing to move from dc1 to dc2: this agent knows no EID at dc1 " +
                              "(EIDs at their home site are covered by dc1's aggregate and not listed anywhere: name them with --eid)" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task The_dry_run_refuses_what_the_real_run_refuses(string from, string to, string[] eids, int exit, string message)
    {
        foreach (var dryRun in new[] { true, false })
        {
            var run = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, from, to, dryRun, force: false, eids, json: false, Console.Out, CancellationToken.None));

            Assert.Equal((exit, message, ""), (run.Exit, run.Error.Trim(), run.Out));
        }
    }

    [Fact]
    public async Task A_source_site_whose_xtr_answers_a_probe_is_failed_over_only_with_force_and_the_report_is_a_table()
    {
        await using var dc1 = await StartDc1Async();

        foreach (var dryRun in new[] { true, false })
        {
            var refused = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, "dc1", "dc2", dryRun, force: false, ["172.16.4.20"], json: false, Console.Out, CancellationToken.None));
            Assert.Equal(3, refused.Exit);
            Assert.Matches(@"^lispmobility: 409 Conflict: dc1 still answers \(its RLOC 127\.91\.7\.3 answered an RLOC probe in \d+(\.\d)? ms\); a failover now would take its EIDs from a live site\. Check the site, or add --force to fail over anyway$",
                refused.Error.Trim());
        }

        var plan = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, "dc1", "dc2", dryRun: true, force: true, ["172.16.4.20"], json: false, Console.Out, CancellationToken.None));
        Assert.Equal(0, plan.Exit);
        Assert.Equal(["EID          RANGE   KNOWN FROM", "172.16.4.20  vm-web  operator", "Dry run dc1 -> dc2: 1 EID(s) would move; nothing was changed"],
            plan.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));

        var real = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, "dc1", "dc2", dryRun: false, force: true, ["172.16.4.20"], json: false, Console.Out, CancellationToken.None));
        Assert.True(real.Exit == 0, real.Out + real.Error);
        var lines = real.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^EID {10}RESULT {5}TIME +DETAIL$", lines[0]);
        Assert.Matches(@"^172\.16\.4\.20  converged  \d+\.\d (ms|s)", lines[1]);
        Assert.Matches(@"^dc1 -> dc2: 1 of 1 EID\(s\) moved, 1 verified by Map-Request, in \d+\.\d+ (ms|s)$", lines[2]);
    }

    [Fact]
    public async Task A_source_site_whose_xtr_stopped_is_failed_over_without_force_while_its_registration_still_stands()
    {
        await (await StartDc1Async()).DisposeAsync();

        var plan = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, "dc1", "dc2", dryRun: true, force: false, ["172.16.4.21"], json: false, Console.Out, CancellationToken.None));
        Assert.True(plan.Exit == 0, plan.Out + plan.Error);
        Assert.Equal(["EID          RANGE   KNOWN FROM", "172.16.4.21  vm-web  operator", "Dry run dc1 -> dc2: 1 EID(s) would move; nothing was changed"],
            plan.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));

        var real = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(_agent.Config, "dc1", "dc2", dryRun: false, force: false, ["172.16.4.21"], json: false, Console.Out, CancellationToken.None));
        Assert.True(real.Exit == 0, real.Out + real.Error);
        Assert.Matches(@"^172\.16\.4\.21  converged  ", real.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)[1]);
        // The mapping system still holds the dead site's aggregate: the failover did not wait for it to expire.
        Assert.Contains("\"eid\":\"172.16.4.0/24\"", await _agent.Api.GetStringAsync(new Uri("/api/registrations", UriKind.Relative)), StringComparison.Ordinal);
    }

    // DC1's xTR, registered with the DR agent's Map-Server.
    private async Task<XtrNode> StartDc1Async()
    {
        var dc1 = new XtrNode(new XtrOptions
        {
            Site = "dc1", Listen = ["127.91.7.3:4342"], Rlocs = [new LocatorOptions { Address = "127.91.7.3" }],
            MapServers = [new MapServerPeerOptions { Address = "127.91.7.1:4342", KeyId = 1, Key = "k1" }], MapResolvers = ["127.91.7.1:4342"],
            DatabaseMappings = ["172.16.4.0/24"],
        }, new InMemoryRouteTable());
        dc1.Start();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        // The registration, not the configured prefix the same view lists.
        while (!(await _agent.Api.GetStringAsync(new Uri("/api/registrations", UriKind.Relative))).Contains("\"eid\":\"172.16.4.0/24\"", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "dc1 never registered");
            await Task.Delay(50);
        }

        return dc1;
    }
}
