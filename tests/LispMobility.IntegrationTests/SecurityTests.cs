using System.Globalization;
using System.Text.Json;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>Registrations and announcements that must change nothing: refused, counted or audited, the routes as they were.</summary>
public sealed class SecurityTests(ITestOutputHelper output)
{
    private const string Refusals = "lispmobility_rejected_packets{component=\"map-server\",reason=";

    [Fact]
    public async Task A_map_register_with_a_wrong_key_is_refused_and_counted_and_changes_nothing()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        var routes = await SnapshotAsync(lab);

        await lab.SendFromTapAsync("198.18.0.1:4342", [HostilePackets.MapRegister("172.16.4.10", NetnsLab.Rloc["tap"], "not-dc2s-key", 1)], repeat: 3);

        await lab.EventuallyAsync(async () => await lab.MetricAsync("ms", Refusals + "\"AuthenticationFailed\"") >= 3, TimeSpan.FromSeconds(30),
            "the Map-Server counted 3 Map-Registers refused for authentication");
        await AssertUnchangedAsync(lab, routes);
    }

    [Fact]
    public async Task A_replayed_map_register_of_dc2_after_the_vm_went_home_is_refused_and_does_not_pull_the_eid_back()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await lab.MoveVmAsync("dc2");
        await Converged.AtDc2Async(lab, "172.16.4.10", branchAsked: false);
        await lab.MoveVmAsync("dc1");
        await Converged.HomeAsync(lab, "172.16.4.10");
        var routes = await SnapshotAsync(lab);

        // DC2's own xTR-ID and key, an old nonce: what a recorded Map-Register of the move to DC2 looks like when played again.
        var status = (await lab.ApiAsync("dc2", "/status"))!.Value;
        var xtrId = UInt128.Parse(status.GetProperty("xtrId").GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        await lab.SendFromTapAsync("198.18.0.1:4342", [HostilePackets.MapRegister("172.16.4.10", NetnsLab.Rloc["dc2"], "lab-key-dc2", 1, xtrId)]);

        await lab.EventuallyAsync(async () => await lab.MetricAsync("ms", Refusals + "\"Replay\"") >= 1, TimeSpan.FromSeconds(30),
            "the Map-Server counted the replayed Map-Register");
        await AssertUnchangedAsync(lab, routes);
    }

    [Fact]
    public async Task An_eid_outside_every_range_is_refused_by_the_detector_and_the_map_server_and_audited()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await lab.MoveVmAsync("dc2");
        await Converged.AtDc2Async(lab, "172.16.4.10", branchAsked: false);
        var routes = await SnapshotAsync(lab);

        await lab.AnnounceAsync("172.16.9.9");
        await lab.EventuallyAsync(async () =>
        {
            var moves = await lab.ApiAsync("dc2", "/moves?eid=172.16.9.9");
            return moves is { ValueKind: JsonValueKind.Array } m && m.EnumerateArray().Any(r =>
                r.GetProperty("outcome").GetString() == "OutsideRanges" && r.GetProperty("kind").GetString() == "refused");
        }, TimeSpan.FromSeconds(30), "DC2's audit history refuses 172.16.9.9 as outside every dynamic-EID range");

        // The same EID registered with DC2's real key from a host of the core: no site of the Map-Server admits it.
        await lab.SendFromTapAsync("198.18.0.1:4342", [HostilePackets.MapRegister("172.16.9.9", NetnsLab.Rloc["tap"], "lab-key-dc2", 1)]);
        await lab.EventuallyAsync(async () => await lab.MetricAsync("ms", Refusals + "\"NoSite\"") >= 1, TimeSpan.FromSeconds(30),
            "the Map-Server counted the Map-Register of an EID no site admits");
        await AssertUnchangedAsync(lab, routes);
        Assert.DoesNotContain("172.16.9.9", (await lab.ApiAsync("ms", "/registrations"))!.Value.GetRawText(), StringComparison.Ordinal);
    }

    private static async Task<Dictionary<string, string>> SnapshotAsync(NetnsLab lab)
    {
        var routes = new Dictionary<string, string>();
        foreach (var node in new[] { "dc1", "dc2", "br" }) routes[node] = await lab.RoutesAsync(node);
        routes["registrations"] = Registrations(await lab.ApiAsync("ms", "/registrations"));
        return routes;
    }

    private static async Task AssertUnchangedAsync(NetnsLab lab, Dictionary<string, string> before)
    {
        foreach (var node in new[] { "dc1", "dc2", "br" }) Assert.Equal(before[node], await lab.RoutesAsync(node));
        Assert.Equal(before["registrations"], Registrations(await lab.ApiAsync("ms", "/registrations")));
    }

    // Which EID is registered by whom at which RLOCs; timestamps left out, they move with every periodic registration.
    private static string Registrations(JsonElement? registrations) => string.Join("; ", Converged.Registrations(registrations)
        .Select(r => $"{r.Registration.GetProperty("eid").GetString()}@{r.Site}={string.Join(",", r.Registration.GetProperty("rlocs").EnumerateArray().Select(l => l.GetString()))}")
        .Order(StringComparer.Ordinal));
}
