using System.Diagnostics;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>
/// Issue 16's faults end to end in the netns lab, each ending with the invariant (the Map-Server, the routes at both sites
/// and where the VM really is agree). The time from the fault's end to convergence is written to the output
/// (docs/benchmarks.md), not asserted.
/// </summary>
public sealed class HealingTests(ITestOutputHelper output)
{
    private const string Vm = "172.16.4.10";

    [Fact]
    public async Task Fault_1_a_map_server_outage_during_the_move_home_heals_when_it_is_back()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await lab.MoveVmAsync("dc2");
        await Converged.AtDc2Async(lab, Vm, branchAsked: false);

        lab.Agent("ms").Kill();
        await lab.MoveVmAsync("dc1");
        await Task.Delay(TimeSpan.FromSeconds(17)); // the window: DC1's Map-Registers still retransmitting
        lab.StartAgent("ms");
        await lab.WaitReadyAsync("ms");
        var healed = Stopwatch.StartNew();

        await Converged.HomeAsync(lab, Vm);
        output.WriteLine($"fault 1: converged {healed.Elapsed.TotalSeconds:0.0} s after the Map-Server answered again");
    }

    [Fact]
    public async Task Fault_2_the_old_site_down_across_a_move_learns_it_lost_the_vm_and_detects_its_return()
    {
        await using var lab = await NetnsLab.StartAsync(output);
        await MoveTests.LookupFromBranchAsync(lab, NetnsLab.Rloc["dc1"]);

        lab.Agent("dc1").Kill();
        await lab.MoveVmAsync("dc2");
        await lab.EventuallyAsync(async () => Converged.HostRegisteredBy(await lab.ApiAsync("ms", "/registrations"), Vm, "dc2"),
            Converged.Deadline, "the Map-Server holds the VM from DC2");
        // Past the Map-Notify retransmissions to DC1 (the Map-Server gives up about 100 s after the move, as in the issue):
        // the restarted DC1 can learn the move only from the news told again at its registration.
        await Task.Delay(TimeSpan.FromSeconds(105));
        lab.StartAgent("dc1");
        await lab.WaitReadyAsync("dc1");
        var healed = Stopwatch.StartNew();

        await Converged.AtDc2Async(lab, Vm, branchAsked: false);
        output.WriteLine($"fault 2: DC1 away {healed.Elapsed.TotalSeconds:0.0} s after its restart");

        await lab.MoveVmAsync("dc1");
        await Converged.HomeAsync(lab, Vm);
    }
}
