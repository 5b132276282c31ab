using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LispMobility.IntegrationTests.Lab;

namespace LispMobility.IntegrationTests;

/// <summary>
/// The numbers of docs/benchmarks.md (System test), measured in the netns lab by a separate run, never asserted:
/// move convergence (with and without 30 % loss + 50 ms delay: tc netem, or its user-space emulation on a kernel without it), DR failover of many EIDs, agent memory and CPU at idle and under a flood.
/// </summary>
internal static class Measurements
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var runs = Option(args, "--runs", 10);
        var eids = Option(args, "--eids", 1000);
        await using (var lab = await NetnsLab.StartAsync().ConfigureAwait(false))
        {
            await MoveConvergenceAsync(lab, runs, "no impairment", output).ConfigureAwait(false);
            await ResourcesAsync(lab, output).ConfigureAwait(false);
            await FailoverAsync(lab, eids, output).ConfigureAwait(false);
        }

        await using (var lab = await NetnsLab.StartAsync().ConfigureAwait(false))
        {
            string mechanism;
            try
            {
                mechanism = await lab.NetemAsync(on: true).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                output.WriteLine($"| move, 30 % loss + 50 ms delay | not measured: {e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim()} |");
                return 0;
            }

            // The row names the mechanism: tc netem, or the user-space emulation on a kernel without sch_netem.
            await MoveConvergenceAsync(lab, runs, $"30 % loss + 50 ms delay ({Mechanism(mechanism)})", output).ConfigureAwait(false);
        }

        return 0;
    }

    // The saga's own total (detection to last step, from DC2's or DC1's audit) and what an observer polling the lab saw
    // (announcement to: /32 at the Map-Server, blackhole at the old site, branch map-cache on the new RLOC).
    private static async Task MoveConvergenceAsync(NetnsLab lab, int runs, string condition, TextWriter output)
    {
        await lab.CliAsync("br", "lookup", "172.16.4.10").ConfigureAwait(false);
        var saga = new List<double>();
        var observed = new List<double>();
        var unconverged = new List<string>();
        for (var i = 0; i < runs; i++)
        {
            var to = i % 2 == 0 ? "dc2" : "dc1";
            await Task.Delay(1000).ConfigureAwait(false); // past the hold-down
            var sagasBefore = (await ConvergedSagasAsync(lab, to).ConfigureAwait(false)).Count;
            var watch = Stopwatch.StartNew();
            await lab.MoveVmAsync(to).ConfigureAwait(false);
            try
            {
                if (to == "dc2") await Converged.AtDc2Async(lab, "172.16.4.10").ConfigureAwait(false);
                else await Converged.HomeAsync(lab, "172.16.4.10").ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                // A result, not a crash of the run: which check was still failing at the deadline; the next move goes on.
                unconverged.Add($"move {i + 1} to {to}: {e.Message.Split('\n')[0]}");
                continue;
            }

            observed.Add(watch.Elapsed.TotalMilliseconds);
            // Under loss the saga may still wait for an acknowledgement after everything an observer checks has converged.
            List<double> sagas = [];
            try
            {
                await lab.EventuallyAsync(async () => (sagas = await ConvergedSagasAsync(lab, to).ConfigureAwait(false)).Count > sagasBefore,
                    Converged.Deadline, $"{to}'s audit has the move converged").ConfigureAwait(false);
                saga.Add(sagas[^1]);
            }
            catch (TimeoutException)
            {
                unconverged.Add($"move {i + 1} to {to}: the network converged but {to}'s saga did not end converged");
            }
        }

        if (saga.Count > 0) output.WriteLine($"| move saga, {condition} | {saga.Count} of {runs} moves | p50 {P(saga, 0.5):0.0} ms, max {saga.Max():0.0} ms |");
        if (observed.Count > 0)
        {
            output.WriteLine($"| move observed end to end (GARP to every check, polled), {condition} | {observed.Count} of {runs} moves | p50 {P(observed, 0.5):0} ms, max {observed.Max():0} ms |");
        }

        if (unconverged.Count > 0)
        {
            output.WriteLine($"| move not converged within {Converged.Deadline.TotalSeconds:0} s, {condition} | {unconverged.Count} of {runs} moves | {string.Join("; ", unconverged)} |");
        }
    }

    // Durations of the converged move sagas of the VM in a site's audit, oldest first.
    private static async Task<List<double>> ConvergedSagasAsync(NetnsLab lab, string site) =>
        (await lab.ApiAsync(site, "/moves?eid=172.16.4.10").ConfigureAwait(false))?.EnumerateArray()
            .Where(m => m.GetProperty("kind").GetString() == "move" && m.GetProperty("outcome").GetString() == "converged")
            .Select(m => m.GetProperty("durationMs").GetDouble()).ToList() ?? [];

    private static async Task FailoverAsync(NetnsLab lab, int count, TextWriter output)
    {
        var list = Enumerable.Range(0, Math.Min(count, 1020)).Select(i => $"172.16.{16 + ((i + 1) / 256)}.{(i + 1) % 256}").ToList();
        var args = new List<string> { "failover", "--from", "dc1", "--to", "dc2" };
        foreach (var e in list) args.AddRange(["--eid", e]);
        var watch = Stopwatch.StartNew();
        var r = await lab.CliAsync("dc2", args.ToArray()).ConfigureAwait(false);
        var wall = watch.Elapsed.TotalMilliseconds;
        var json = r.Output[r.Output.IndexOf('{', StringComparison.Ordinal)..(r.Output.LastIndexOf('}') + 1)];
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        output.WriteLine($"| DR failover dc1 -> dc2 | {list.Count} EIDs | {root.GetProperty("elapsedMs").GetDouble():0} ms in the coordinator ({wall:0} ms CLI wall), " +
            $"moved {root.GetProperty("moved").GetInt32()}, verified {root.GetProperty("verified").GetInt32()}, converged {root.GetProperty("converged").GetBoolean()} |");
    }

    private static async Task ResourcesAsync(NetnsLab lab, TextWriter output)
    {
        await Task.Delay(5000).ConfigureAwait(false);
        foreach (var (node, rss, cpu) in await SampleAsync(lab, TimeSpan.FromSeconds(20), () => Task.CompletedTask).ConfigureAwait(false))
        {
            output.WriteLine($"| idle agent {node} | 20 s | RSS {rss / 1024.0:0} MiB, CPU {cpu:0.0} % of one core |");
        }

        var mix = HostilePackets.FloodMix();
        string[] targets = ["198.18.0.1:4342", "198.18.0.1:4343", "198.18.0.11:4342", "198.18.0.12:4342", "198.18.0.13:4342"];
        var before = await lab.MetricAsync("ms", "lispmobility_rejected_packets{component=\"map-server\"").ConfigureAwait(false);
        var sent = 0;
        var samples = await SampleAsync(lab, TimeSpan.FromSeconds(20), async () =>
        {
            await Task.WhenAll(targets.Select(t => lab.SendFromTapAsync(t, mix, repeat: 4000))).ConfigureAwait(false);
            sent += targets.Length * mix.Count * 4000;
        }).ConfigureAwait(false);
        foreach (var (node, rss, cpu) in samples)
        {
            output.WriteLine($"| agent {node} under the flood | 20 s | RSS {rss / 1024.0:0} MiB, CPU {cpu:0.0} % of one core |");
        }

        await Task.Delay(6000).ConfigureAwait(false); // one metrics refresh
        var after = await lab.MetricAsync("ms", "lispmobility_rejected_packets{component=\"map-server\"").ConfigureAwait(false);
        output.WriteLine($"| flood | {sent} datagrams sent from the tap | Map-Server refused {after - before:0} (the rest went to the xTRs) |");
    }

    // Peak RSS and mean CPU per agent over the window, while `load` runs (repeated until the window ends).
    private static async Task<List<(string Node, long RssKib, double CpuPercent)>> SampleAsync(NetnsLab lab, TimeSpan window, Func<Task> load)
    {
        var cpu0 = NetnsLab.AgentNodes.ToDictionary(n => n, n => lab.Agent(n).CpuTime());
        var peak = NetnsLab.AgentNodes.ToDictionary(n => n, _ => 0L);
        var watch = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(window);
        var loadTask = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested) await load().ConfigureAwait(false);
        });
        while (watch.Elapsed < window)
        {
            foreach (var n in NetnsLab.AgentNodes) peak[n] = Math.Max(peak[n], lab.Agent(n).RssKib());
            await Task.Delay(500).ConfigureAwait(false);
        }

        await loadTask.ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        return NetnsLab.AgentNodes.Select(n => (n, peak[n], (lab.Agent(n).CpuTime() - cpu0[n]).TotalSeconds / seconds * 100)).ToList();
    }

    // The script's line, e.g. "tc netem (loss 30% ...)" or "user-space emulation (iptables NFQUEUE + LinkEmulator, ...)".
    private static string Mechanism(string line) => line.StartsWith("tc netem", StringComparison.Ordinal) ? "tc netem"
        : line.StartsWith("user-space emulation", StringComparison.Ordinal) ? "user-space emulation: iptables NFQUEUE + LinkEmulator"
        : line;

    private static double P(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(q * sorted.Count))];
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
