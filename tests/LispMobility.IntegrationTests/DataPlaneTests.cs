using System.Text.Json;
using LispMobility.IntegrationTests.Lab;
using LispMobility.TestSupport.Pcap;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>The xTRs' data plane in the lab: the branch host reaches the VM through LISP, and keeps reaching it as it moves.</summary>
public sealed class DataPlaneTests(ITestOutputHelper output)
{
    private const string Vm = "172.16.4.10";
    private const string Vm6 = "2001:db8:4::10";

    [Fact]
    public async Task The_branch_host_pings_the_vm_through_lisp_both_ways_and_wireshark_decodes_the_data_packets()
    {
        Assert.True(Tshark.IsAvailable, "tshark is not installed; scripts/test.sh installs it (apt-get install tshark)");
        await using var lab = await NetnsLab.StartAsync(output);
        await ReachableAsync(lab);

        var pcap = Path.Combine(lab.Directory, "core-4341.pcap");
        var capture = NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("ms"), "tshark", "-q", "-i", "core", "-f", "udp port 4341", "-c", "4", "-a", "duration:20", "-w", pcap],
            TimeSpan.FromSeconds(30));
        await Task.Delay(1500); // tshark starts capturing a moment after it starts
        var ping = await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "4", "-i", "0.2", "-W", "2", Vm], TimeSpan.FromSeconds(20));
        Assert.True(ping.ExitCode == 0, ping.ToString());
        var captured = await capture;
        Assert.True(captured.ExitCode == 0, captured.ToString());

        var rows = Tshark.DecodeFields(pcap, "ip.src", "ip.dst", "lisp-data.flags.nonce", "lisp-data.flags.iid", "lisp-data.nonce", "lisp-data.iid", "icmp.type");
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.True(r[2] is "1" or "True" && r[3] is "1" or "True", string.Join(' ', r));
            Assert.Equal("0", r[5]);
        });
        Assert.True(rows.Select(r => r[4]).Distinct().Count() > 1, "a random nonce per packet");
        Assert.Contains(rows, r => r[0] == $"{NetnsLab.Rloc["br"]},10.50.0.10" && r[1] == $"{NetnsLab.Rloc["dc1"]},{Vm}" && r[6] == "8");
        Assert.Contains(rows, r => r[0] == $"{NetnsLab.Rloc["dc1"]},{Vm}" && r[1] == $"{NetnsLab.Rloc["br"]},10.50.0.10" && r[6] == "0");
    }

    [Fact]
    public async Task A_pinger_every_5_ms_gets_replies_again_after_each_move_dc1_to_dc2_to_dc1()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await ReachableAsync(lab);
        using var pinger = Pinger.Start(lab.Ns("bh"), Vm, TimeSpan.FromMilliseconds(5));
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now - TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)), "no reply before the moves");

        foreach (var to in new[] { "dc2", "dc1" })
        {
            await Task.Delay(1000); // past the hold-down
            var moved = pinger.Now;
            await lab.MoveVmAsync(to);
            lab.Log($"moved to {to}");
            Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(30)), $"no reply from the VM at {to}");
            var (lost, outage) = pinger.OutageAfter(moved);
            lab.Log($"at {to}: {lost} replies lost, outage {outage.TotalMilliseconds:0} ms");
        }
    }

    [Fact]
    public async Task The_branch_host_reaches_the_vm_over_ipv4_and_ipv6_before_and_after_moves_dc1_to_dc2_to_dc1()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await ReachableAsync(lab, Vm);
        await ReachableAsync(lab, Vm6);

        // One move of the VM carries both of its EIDs: each is registered, held away, solicited and reached at the new site.
        await Task.Delay(1000); // past the hold-down of the start's sightings
        await lab.MoveVmAsync("dc2");
        foreach (var eid in new[] { Vm, Vm6 })
        {
            await Converged.AtDc2Async(lab, eid);
            await ReachableAsync(lab, eid);
            var moves = await lab.CliAsync("dc2", "moves", "--json", "--eid", eid);
            Assert.True(moves.ExitCode == 0, moves.ToString());
            using var doc = JsonDocument.Parse(moves.Output);
            Assert.Contains(doc.RootElement.EnumerateArray(), r => r.GetProperty("kind").GetString() == "move" && r.GetProperty("outcome").GetString() == "converged"
                && r.GetProperty("toSite").GetString() == "dc2");
        }

        await Task.Delay(1000); // past the hold-down
        await lab.MoveVmAsync("dc1");
        foreach (var eid in new[] { Vm, Vm6 })
        {
            await Converged.HomeAsync(lab, eid);
            await ReachableAsync(lab, eid);
        }
    }

    // The first packets of each direction wait for a Map-Reply (they are dropped and counted): ping until one comes back.
    private static async Task ReachableAsync(NetnsLab lab, string eid = Vm) => await lab.EventuallyAsync(async () =>
        (await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", eid], TimeSpan.FromSeconds(10))).ExitCode == 0,
        TimeSpan.FromSeconds(30), $"the branch host reaches {eid}");
}
