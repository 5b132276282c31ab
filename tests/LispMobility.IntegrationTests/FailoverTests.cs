using System.Text.Json;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>DR: DC1 fails over to DC2 without renumbering, driven by the CLI on DC2's host.</summary>
public sealed class FailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Failover_from_dc1_to_dc2_moves_every_named_eid_verified_by_lookup_from_the_branch()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        string[] eids = ["172.16.4.20", "172.16.4.21", "172.16.4.22", "172.16.4.23"];

        // DC1 is alive in the lab (it registers and answers): refused, dry run or not, unless the operator forces it.
        var refused = await lab.CliAsync("dc2", ["failover", "--from", "dc1", "--to", "dc2", "--dry-run", .. eids.SelectMany(e => new[] { "--eid", e })]);
        Assert.True(refused.ExitCode == 3 && refused.ToString().Contains("dc1 still answers", StringComparison.Ordinal), refused.ToString());

        var dryRun = await lab.CliAsync("dc2", ["failover", "--from", "dc1", "--to", "dc2", "--dry-run", "--force", .. eids.SelectMany(e => new[] { "--eid", e })]);
        Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
        Assert.True(string.IsNullOrEmpty(await lab.RoutesAsync("dc1")), "a dry run changed DC1's routes");

        var failover = await lab.CliAsync("dc2", ["failover", "--from", "dc1", "--to", "dc2", "--force", "--json", .. eids.SelectMany(e => new[] { "--eid", e })]);
        Assert.True(failover.ExitCode == 0, failover.ToString());
        var json = failover.Output[failover.Output.IndexOf('{', StringComparison.Ordinal)..(failover.Output.LastIndexOf('}') + 1)];
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.True(doc.RootElement.GetProperty("converged").GetBoolean(), json);
            Assert.Equal(eids.Length, doc.RootElement.GetProperty("verified").GetInt32());
        }

        foreach (var eid in eids)
        {
            var lookup = await lab.CliAsync("br", "lookup", eid, "--json");
            Assert.True(lookup.ExitCode == 0, lookup.ToString());
            using var doc = JsonDocument.Parse(lookup.Output);
            Assert.Equal(eid + "/32", doc.RootElement.GetProperty("eid").GetString());
            Assert.Equal([NetnsLab.Rloc["dc2"]], doc.RootElement.GetProperty("rlocs").EnumerateArray().Select(r => r.GetString()));
            await lab.EventuallyAsync(async () => (await lab.RoutesAsync("dc1")).Contains($"blackhole {eid} ", StringComparison.Ordinal),
                Converged.Deadline, $"DC1 blackholes {eid}");
        }
    }

    [Fact]
    public async Task Failover_from_a_dc1_whose_agent_stopped_goes_ahead_without_force_while_its_registration_still_stands()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        string[] eids = ["172.16.4.30", "172.16.4.31"];
        lab.Agent("dc1").Kill();

        // No --force: DC1's xTR no longer answers an RLOC probe, though the Map-Server still holds its registration.
        var failover = await lab.CliAsync("dc2", ["failover", "--from", "dc1", "--to", "dc2", "--json", .. eids.SelectMany(e => new[] { "--eid", e })]);

        Assert.True(failover.ExitCode == 0, failover.ToString());
        var json = failover.Output[failover.Output.IndexOf('{', StringComparison.Ordinal)..(failover.Output.LastIndexOf('}') + 1)];
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.True(doc.RootElement.GetProperty("converged").GetBoolean(), json);
        }

        var registrations = (await lab.ApiAsync("ms", "/registrations"))!.Value.GetRawText();
        Assert.Contains(NetnsLab.Rloc["dc1"], registrations, StringComparison.Ordinal);
    }
}
