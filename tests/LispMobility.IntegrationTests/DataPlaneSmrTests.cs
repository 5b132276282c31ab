using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>System test (b): after a move, the branch's data still sent to the old site draws that site's data-plane SMR, and the branch refreshes.</summary>
public sealed class DataPlaneSmrTests(ITestOutputHelper output)
{
    private const string Vm = "172.16.4.10";

    // iptables u32: the first byte of the UDP payload of an SMR is a Map-Request's type 1 with the S bit (0x11 under mask 0xF1).
    private static readonly string[] SmrNotFromDc1 =
        ["-p", "udp", "!", "-s", NetnsLab.Rloc["dc1"], "-m", "u32", "--u32", "0>>22&0x3C@8>>24&0xF1=0x11", "-j", "DROP"];

    [Fact]
    public async Task The_branch_missing_every_other_smr_refreshes_on_the_old_sites_data_plane_smr_and_the_pings_resume()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await lab.EventuallyAsync(async () =>
            (await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", Vm], TimeSpan.FromSeconds(10))).ExitCode == 0,
            TimeSpan.FromSeconds(30), $"the branch host reaches {Vm}");
        // Only DC1's SMRs reach the branch: not the Map-Server's, not DC2's.
        await lab.IpAsync(["netns", "exec", lab.Ns("br"), "iptables", "-w", "-A", "INPUT", .. SmrNotFromDc1]);
        using var pinger = Pinger.Start(lab.Ns("bh"), Vm, TimeSpan.FromMilliseconds(10));
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(10)), "no reply before the move");

        await Task.Delay(1000); // past the hold-down
        await lab.MoveVmAsync("dc2");
        await lab.EventuallyAsync(async () => (await lab.ApiAsync("br", "/map-cache?eid=" + Vm))?.ToString() is { } s && s.Contains(NetnsLab.Rloc["dc2"], StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the branch's map-cache sends the VM's traffic to DC2");
        Assert.True(await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(10)), "no reply from the VM at DC2");
        var dropped = await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("br"), "iptables", "-w", "-L", "INPUT", "-v", "-n", "-x"], TimeSpan.FromSeconds(10));
        lab.Log($"SMRs from others dropped at the branch:\n{dropped.Output}");
    }
}
