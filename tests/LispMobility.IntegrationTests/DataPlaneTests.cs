using System.Text.Json;
using System.Text.Json.Nodes;
using LispMobility.IntegrationTests.Lab;
using LispMobility.TestSupport.Netns;
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
        await CaptureWhilePingingAsync(lab, pcap, 4, Vm);

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

        // The lab runs the agents' defaults: the kernel fast path carried the captured pings, each echo request encapsulated by
        // the branch and decapsulated by DC1 (its counters reach /metrics every 100 ms). The pings before, that made the
        // map-cache entry, may have crossed in user space before the mirror gave the entry to the kernel.
        var requests = rows.Count(r => r[6] == "8");
        long encapsulated = 0, decapsulated = 0;
        for (var attempt = 0; attempt < 30 && (encapsulated < requests || decapsulated < requests); attempt++)
        {
            if (attempt > 0) await Task.Delay(100);
            encapsulated = Counter(await lab.MetricsAsync("br"), "fast-path-encapsulated");
            decapsulated = Counter(await lab.MetricsAsync("dc1"), "fast-path-decapsulated");
        }

        Assert.True(encapsulated >= requests && decapsulated >= requests,
            $"fast path: br encapsulated {encapsulated}, DC1 decapsulated {decapsulated}, of {requests} echo requests captured");
        Assert.Contains("kernel fast path on", File.ReadAllText(Path.Combine(lab.Directory, "br.log")), StringComparison.Ordinal);
        Assert.Matches(@"(?m)^lispmobility_data_plane_fast_path(\{[^}]*\})? 1\b", await lab.MetricsAsync("dc1"));
    }

    private static long Counter(string metrics, string result)
    {
        var match = System.Text.RegularExpressions.Regex.Match(metrics, $"lispmobility_data_plane_packets_total\\{{[^}}]*result=\"{result}\"[^}}]*\\}} (\\d+)");
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    [Fact]
    public async Task A_pinger_every_5_ms_gets_replies_again_after_each_move_dc1_to_dc2_to_dc1()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await ReachableAsync(lab);
        await PingThroughTwoMovesAsync(lab);
    }

    // A pinger every 5 ms from the branch host while the VM moves to DC2 and back: the replies resume at each site (and
    // then atEachSite runs).
    private static async Task PingThroughTwoMovesAsync(NetnsLab lab, Func<Task>? atEachSite = null)
    {
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
            if (atEachSite is not null) await atEachSite();
        }
    }

    [Fact]
    public async Task With_the_ring_read_veth_device_the_branch_host_reaches_the_vm_over_both_families_and_a_5_ms_pinger_follows_two_moves()
    {
        // Xtr:DataPlane:Device veth at every xTR: the ITRs read a veth pair's far end through a TPACKET_V3 ring.
        await using var lab = await NetnsLab.StartAsync(output, (_, config) =>
        {
            if (config["Xtr"]?["DataPlane"] is JsonObject dataPlane) dataPlane["Device"] = "veth";
        });
        foreach (var node in new[] { "br", "dc1", "dc2" })
            Assert.Contains("lisp0p@lisp0", NetworkNamespace.Run("ip", $"-n {lab.Ns(node)} link show"), StringComparison.Ordinal);
        await ReachableAsync(lab, Vm);
        await ReachableAsync(lab, Vm6);
        await PingThroughTwoMovesAsync(lab, () => ReachableAsync(lab, Vm6));
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

    [Fact]
    public async Task Over_ipv6_rlocs_the_branch_host_reaches_the_vm_over_ipv4_and_ipv6_before_and_after_a_move_and_wireshark_decodes_it()
    {
        Assert.True(Tshark.IsAvailable, "tshark is not installed; scripts/test.sh installs it (apt-get install tshark)");
        await using var lab = await NetnsLab.StartAsync(output, ipv6Rlocs: true);
        await ReachableAsync(lab, Vm);
        await ReachableAsync(lab, Vm6);

        // Both EID families cross the core in IPv6 outer headers (IPv4 EIDs over IPv6 RLOCs, IPv6 over IPv6), and only so.
        var pcap = Path.Combine(lab.Directory, "core-4341-v6.pcap");
        await CaptureWhilePingingAsync(lab, pcap, 8, Vm, Vm6);

        // ipv6.src/dst list the outer addresses, then the inner ones of an IPv6 EID; ip.src/dst the inner ones of an IPv4 EID.
        var rows = Tshark.DecodeFields(pcap, "ipv6.src", "ipv6.dst", "ip.src", "ip.dst", "lisp-data.flags.nonce", "udp.checksum");
        Assert.Equal(8, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.True(r[4] is "1" or "True", string.Join(' ', r));
            Assert.True(r[5].Length > 0 && r[5] != "0x0000", $"an outer IPv6 UDP checksum is computed, never 0: {string.Join(' ', r)}");
        });
        Assert.Contains(rows, r => r[0] == NetnsLab.Rloc6["br"] && r[1] == NetnsLab.Rloc6["dc1"] && r[2] == "10.50.0.10" && r[3] == Vm);
        Assert.Contains(rows, r => r[0] == NetnsLab.Rloc6["dc1"] && r[1] == NetnsLab.Rloc6["br"] && r[2] == Vm && r[3] == "10.50.0.10");
        Assert.Contains(rows, r => r[0] == $"{NetnsLab.Rloc6["br"]},2001:db8:50::10" && r[1] == $"{NetnsLab.Rloc6["dc1"]},{Vm6}");
        Assert.Contains(rows, r => r[0] == $"{NetnsLab.Rloc6["dc1"]},{Vm6}" && r[1] == $"{NetnsLab.Rloc6["br"]},2001:db8:50::10");

        var cache = await lab.ApiAsync("br", "/map-cache");
        Assert.True(Converged.CacheHolds(cache, "172.16.4.0/24", NetnsLab.Rloc6["dc1"]), $"the branch's map-cache: {cache}");
        Assert.True(Converged.CacheHolds(cache, "2001:db8:4::/64", NetnsLab.Rloc6["dc1"]), $"the branch's map-cache: {cache}");

        await Task.Delay(1000); // past the hold-down of the start's sightings
        await lab.MoveVmAsync("dc2");
        foreach (var eid in new[] { Vm, Vm6 })
        {
            // AtDc2Async checks the branch's map-cache for the EID's host prefix at DC2's IPv6 RLOC.
            await Converged.AtDc2Async(lab, eid);
            await ReachableAsync(lab, eid);
        }
    }

    // Captures `count` LISP data packets on the branch's port of the core bridge (the bridge device itself sees only what is
    // flooded or addressed to it) while the branch host pings each EID in turn, one ping at a time, until tshark has them
    // all: the first packets can be missed while the capture settles, so a fixed number of pings is not enough.
    private static async Task CaptureWhilePingingAsync(NetnsLab lab, string pcap, int count, params string[] eids)
    {
        using var capture = TsharkCapture.Start(lab.Ns("ms"), "br", "udp port 4341", count, TimeSpan.FromSeconds(30), pcap);
        for (var round = 0; round < 20 && !capture.WaitForExit(TimeSpan.Zero); round++)
        {
            foreach (var eid in eids)
            {
                var ping = await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "2", eid], TimeSpan.FromSeconds(20));
                Assert.True(ping.ExitCode == 0, ping.ToString());
            }
        }

        Assert.True(capture.WaitForExit(TimeSpan.FromSeconds(35)), "tshark did not stop");
    }

    // The first packets of each direction wait for a Map-Reply (they are dropped and counted): ping until one comes back.
    private static async Task ReachableAsync(NetnsLab lab, string eid = Vm) => await lab.EventuallyAsync(async () =>
        (await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", eid], TimeSpan.FromSeconds(10))).ExitCode == 0,
        TimeSpan.FromSeconds(30), $"the branch host reaches {eid}");
}
