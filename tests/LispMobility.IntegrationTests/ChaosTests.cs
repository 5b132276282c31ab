using System.Diagnostics;
using LispMobility.IntegrationTests.Lab;
using Xunit.Abstractions;

namespace LispMobility.IntegrationTests;

/// <summary>
/// Issue 16's chaos tests in the netns lab: seeded (printed; LISPMOBILITY_CHAOS_SEED replays a run), each ending with the
/// invariant (<see cref="Invariant"/>). Short by default; LISPMOBILITY_CHAOS_SEQUENCES and LISPMOBILITY_CHAOS_OUTAGE_SECONDS
/// make them the size (docs/benchmarks.md).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_map_server_outage_with_moves_at_random_moments_degrades_health_and_converges_when_it_is_back()
    {
        // 30 s is ten of the lab's 3 s registration intervals: at production's 60 s interval, longer than the 5 minutes.
        var outage = TimeSpan.FromSeconds(Chaos.Setting("LISPMOBILITY_CHAOS_OUTAGE_SECONDS", 30));
        var chaos = new Chaos(output, "chaos: Map-Server outage");
        await using var lab = await Chaos.StartLabAsync(output);
        await Invariant.HoldsAsync(lab);

        lab.Agent("ms").Kill();
        var down = Stopwatch.StartNew();
        var moves = chaos.Random.Next(1, 4);
        for (var i = 0; i < moves; i++)
        {
            await Task.Delay(chaos.Between(TimeSpan.FromSeconds(1), outage / (moves + 1)));
            await MoveAwayAsync(lab, chaos);
        }

        await lab.EventuallyAsync(async () => await lab.HealthAsync("dc1") is { } h && h.StartsWith("Degraded", StringComparison.Ordinal)
            && h.Contains("Map-Server 198.18.0.1:4342 unreachable", StringComparison.Ordinal), outage + TimeSpan.FromSeconds(30),
            "DC1's /healthz is Degraded: the Map-Server unreachable");
        if (outage - down.Elapsed is { Ticks: > 0 } rest) await Task.Delay(rest);
        lab.StartAgent("ms");
        await lab.WaitReadyAsync("ms");
        lab.Log($"the Map-Server answers again after {down.Elapsed.TotalSeconds:0} s");

        await chaos.ConvergedAsync(lab, $"outage of {down.Elapsed.TotalSeconds:0} s, {moves} move(s) during it");
        await lab.EventuallyAsync(async () => await lab.HealthAsync("dc1") is { } h && h.StartsWith("Healthy", StringComparison.Ordinal),
            Converged.Deadline, "DC1's /healthz is Healthy again");
        chaos.Summary();
    }

    [Fact]
    public async Task Kill_9_of_a_random_agent_at_a_random_moment_of_each_random_move_sequence_converges_after_its_restart()
    {
        var sequences = Chaos.Setting("LISPMOBILITY_CHAOS_SEQUENCES", 2);
        var chaos = new Chaos(output, "chaos: kill -9 in move sequences");
        await using var lab = await Chaos.StartLabAsync(output);
        await Invariant.HoldsAsync(lab);

        for (var s = 1; s <= sequences; s++)
        {
            var moves = chaos.Random.Next(2, 5);
            var victim = NetnsLab.AgentNodes[chaos.Random.Next(NetnsLab.AgentNodes.Length)];
            var killDuring = chaos.Random.Next(moves);
            var killAfter = chaos.Between(TimeSpan.Zero, TimeSpan.FromSeconds(3));
            var downFor = chaos.Between(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
            lab.Log($"sequence {s}/{sequences}: {moves} moves, kill -9 {victim} {killAfter.TotalMilliseconds:0} ms into move {killDuring + 1}, down {downFor.TotalSeconds:0.0} s");

            var killed = Stopwatch.StartNew();
            for (var m = 0; m < moves; m++)
            {
                await Task.Delay(chaos.Between(TimeSpan.FromSeconds(0.6), TimeSpan.FromSeconds(3)));
                var move = MoveAwayAsync(lab, chaos);
                if (m == killDuring)
                {
                    await Task.Delay(killAfter);
                    lab.Agent(victim).Kill();
                    killed.Restart();
                    lab.Log($"killed {victim} (-9)");
                }

                await move;
            }

            if (downFor - killed.Elapsed is { Ticks: > 0 } rest) await Task.Delay(rest);
            lab.StartAgent(victim);
            await lab.WaitReadyAsync(victim);
            await chaos.ConvergedAsync(lab, $"sequence {s}, {victim} killed and restarted");
        }

        chaos.Summary();
    }

    [NetemFact]
    public async Task Moves_under_30_percent_loss_on_every_site_link_converge_once_the_loss_ends()
    {
        var chaos = new Chaos(output, "chaos: 30 % loss during moves");
        await using var lab = await Chaos.StartLabAsync(output);
        await Invariant.HoldsAsync(lab);

        var mechanism = await lab.NetemAsync(on: true);
        var moves = chaos.Random.Next(2, 4);
        try
        {
            for (var i = 0; i < moves; i++)
            {
                await Task.Delay(chaos.Between(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8)));
                await MoveAwayAsync(lab, chaos);
            }

            await Task.Delay(chaos.Between(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8)));
        }
        finally
        {
            await lab.NetemAsync(on: false);
        }

        await chaos.ConvergedAsync(lab, $"{moves} moves under loss ({mechanism})");
        chaos.Summary();
    }

    [Fact]
    public async Task A_corrupt_journal_at_start_is_a_one_line_refusal_and_the_site_heals_once_it_is_moved_aside()
    {
        var chaos = new Chaos(output, "chaos: journal corruption at start");
        await using var lab = await Chaos.StartLabAsync(output);
        await lab.MoveVmAsync("dc2");
        chaos.MovesTried++;
        await Invariant.HoldsAsync(lab);

        lab.Agent("dc2").Kill();
        var journal = Path.Combine(lab.Directory, "dc2.db");
        await using (var file = new FileStream(journal, FileMode.Open, FileAccess.Write))
        {
            // Over SQLite's header, at a seeded offset inside it: the file is no longer a database.
            file.Position = chaos.Random.Next(0, 16);
            await file.WriteAsync(new byte[100].Select(_ => (byte)chaos.Random.Next(256)).ToArray());
        }

        var logBefore = File.ReadAllLines(Path.Combine(lab.Directory, "dc2.log")).Length;
        lab.StartAgent("dc2");
        var log = Path.Combine(lab.Directory, "dc2.log");
        await lab.EventuallyAsync(() => Task.FromResult(!lab.Agent("dc2").IsRunning && File.ReadLines(log).Skip(logBefore).Any(l => l.StartsWith("lispmobility:", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(60), "the agent of dc2 refuses to start");
        await Task.Delay(500); // anything it wrote after that line
        var said = File.ReadAllLines(log).Skip(logBefore).Where(l => l.Length > 0).ToList();
        Assert.True(said.Count == 1, "one line, no stack trace:\n" + string.Join('\n', said));
        Assert.StartsWith($"lispmobility: the move journal {journal} is not a SQLite database or is corrupt", said[0], StringComparison.Ordinal);
        Assert.Contains("move it aside", said[0], StringComparison.Ordinal);

        foreach (var f in Directory.GetFiles(lab.Directory, "dc2.db*")) File.Move(f, f + ".corrupt");
        lab.StartAgent("dc2");
        await lab.WaitReadyAsync("dc2");
        await chaos.ConvergedAsync(lab, "journal moved aside, dc2 started again");
        chaos.Summary();
    }

    // Every move goes to the other site, so that each is a real move (a "move" to where the VM is would only announce it).
    private static async Task MoveAwayAsync(NetnsLab lab, Chaos chaos)
    {
        var to = await lab.VmSiteAsync() == "dc1" ? "dc2" : "dc1";
        await lab.MoveVmAsync(to);
        chaos.MovesTried++;
        lab.Log($"moved the VM to {to}");
    }
}
