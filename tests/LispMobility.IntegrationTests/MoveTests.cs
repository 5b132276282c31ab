using System.Text.Json;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>A VM moves from DC1 to DC2 and back, seen by the real agents through the packets it sends.</summary>
public sealed class MoveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Live_move_to_dc2_blackholes_dc1_refreshes_the_branch_and_is_audited_then_a_cold_move_home_withdraws_the_host_and_it_moves_again()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await LookupFromBranchAsync(lab, "198.18.0.11");

        await lab.MoveVmAsync("dc2");
        await Converged.AtDc2Async(lab, "172.16.4.10");

        var moves = await lab.CliAsync("dc2", "moves", "--json", "--eid", "172.16.4.10");
        Assert.Equal(0, moves.ExitCode);
        using (var doc = JsonDocument.Parse(moves.Output))
        {
            var rows = doc.RootElement.EnumerateArray().ToList();
            Assert.Contains(rows, r => r.GetProperty("kind").GetString() == "move" && r.GetProperty("outcome").GetString() == "converged"
                && r.GetProperty("fromSite").GetString() == "dc1" && r.GetProperty("toSite").GetString() == "dc2");
            foreach (var step in new[] { "Registered", "OldSiteAway", "RemoteItrsSolicited" })
            {
                Assert.Contains(rows, r => r.GetProperty("kind").GetString() == step && r.GetProperty("durationMs").ValueKind == JsonValueKind.Number);
            }
        }

        await lab.MoveVmAsync("dc1", cold: true);
        await Converged.HomeAsync(lab, "172.16.4.10");

        // Again: DC2's agent ran the first move itself and must not take the VM's return for noise.
        await Task.Delay(TimeSpan.FromSeconds(1)); // past the hold-down
        await MoveTests.LookupFromBranchAsync(lab, "198.18.0.11");
        await lab.MoveVmAsync("dc2");
        await Converged.AtDc2Async(lab, "172.16.4.10");
    }

    internal static async Task LookupFromBranchAsync(NetnsLab lab, string expectedRloc)
    {
        var lookup = await lab.CliAsync("br", "lookup", "172.16.4.10", "--json");
        Assert.True(lookup.ExitCode == 0, lookup.ToString());
        Assert.Contains(expectedRloc, lookup.Output, StringComparison.Ordinal);
    }
}
