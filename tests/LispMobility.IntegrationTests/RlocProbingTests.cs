using System.Text.Json.Nodes;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>RLOC reachability in the lab: a locator of DC1 that dies is found by the branch's probes and its traffic moves to the next.</summary>
public sealed class RlocProbingTests(ITestOutputHelper output)
{
    private const string Vm = "172.16.4.10";
    private const string Second = "198.18.0.21";

    [Fact]
    public async Task A_dead_locator_is_detected_by_probing_and_the_branch_pings_resume_through_the_next_then_it_comes_back()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        // DC1 gets a second RLOC on its WAN, preferred (priority 1) over its first (2), and listens for probes on it.
        await lab.IpAsync("-n", lab.Ns("dc1"), "addr", "add", Second + "/32", "dev", "wan");
        var config = JsonNode.Parse(await File.ReadAllTextAsync(lab.Config("dc1")))!;
        var xtr = config["Xtr"]!;
        xtr["Rlocs"] = new JsonArray(
            new JsonObject { ["Address"] = NetnsLab.Rloc["dc1"], ["Priority"] = 2 },
            new JsonObject { ["Address"] = Second, ["Priority"] = 1 });
        xtr["Listen"] = new JsonArray($"{NetnsLab.Rloc["dc1"]}:4342", $"{Second}:4342");
        await File.WriteAllTextAsync(lab.Config("dc1"), config.ToJsonString());
        lab.StartAgent("dc1");
        await lab.WaitReadyAsync("dc1");
        await lab.EventuallyAsync(async () => (await lab.ApiAsync("ms", "/registrations"))?.ToString() is { } s && s.Contains(Second, StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "DC1 registered with its second RLOC");

        await lab.EventuallyAsync(async () =>
            (await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", Vm], TimeSpan.FromSeconds(10))).ExitCode == 0,
            TimeSpan.FromSeconds(30), $"the branch host reaches {Vm}");
        await lab.EventuallyAsync(async () => await SecondUpAsync(lab) == true, TimeSpan.FromSeconds(20), "the branch's map-cache has DC1's second RLOC, up");
        using var pinger = Pinger.Start(lab.Ns("bh"), Vm, TimeSpan.FromMilliseconds(10));
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(10)), "no reply before the locator dies");

        var killed = pinger.Now;
        // The locator dies on the path (the core bridge drops every frame to it), as a dead link or router kills it: DC1's own
        // firewall would not do, since its kernel fast path takes LISP data at the interface, before netfilter sees it.
        await lab.IpAsync("netns", "exec", lab.Ns("ms"), "ebtables", "-A", "FORWARD", "-p", "IPv4", "--ip-dst", Second, "-j", "DROP");
        lab.Log($"{Second} dropped at DC1");
        await lab.EventuallyAsync(async () => await SecondUpAsync(lab) == false, TimeSpan.FromSeconds(20), "the branch marks DC1's second RLOC down");
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(10)), "no reply through DC1's first RLOC");
        var (lost, outage) = pinger.OutageAfter(killed);
        lab.Log($"locator died: {lost} replies lost, outage {outage.TotalMilliseconds:0} ms");
        Assert.True(lost > 0, "the pings did not go to the locator that died");

        await lab.IpAsync("netns", "exec", lab.Ns("ms"), "ebtables", "-D", "FORWARD", "-p", "IPv4", "--ip-dst", Second, "-j", "DROP");
        await lab.EventuallyAsync(async () => await SecondUpAsync(lab) == true, TimeSpan.FromSeconds(20), "the branch marks DC1's second RLOC up again");
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(10)), "no reply after the locator came back");
    }

    // Whether the branch's map-cache entry for the VM lists DC1's second RLOC up; null when it does not list it.
    private static async Task<bool?> SecondUpAsync(NetnsLab lab)
    {
        if (await lab.ApiAsync("br", "/map-cache?eid=" + Vm) is not { } cache) return null;
        foreach (var entry in cache.EnumerateArray())
        {
            foreach (var rloc in entry.GetProperty("rlocs").EnumerateArray())
            {
                if (rloc.GetProperty("address").GetString() == Second) return rloc.GetProperty("up").GetBoolean();
            }
        }

        return null;
    }
}
