using System.Globalization;
using LispMobility.IntegrationTests.Lab;
using LispMobility.TestSupport;

namespace LispMobility.IntegrationTests;

/// <summary>
/// The outage of live moves as the branch host sees it through the data plane (docs/benchmarks.md, issue 15): pings every
/// 5 ms from the branch host to the VM while it moves between DC1 and DC2; per move the replies lost and the silence from
/// the last reply before the move to the first after it. Measured by a separate run, never asserted.
/// </summary>
internal static class DataPlaneMeasurements
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var moves = 20;
        var settle = TimeSpan.Zero;
        string? logs = null;
        var device = "tun";
        for (var i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--moves") moves = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            if (args[i] == "--logs") logs = args[i + 1];
            if (args[i] == "--device") device = args[i + 1];
            if (args[i] == "--settle") settle = TimeSpan.FromSeconds(double.Parse(args[i + 1], CultureInfo.InvariantCulture));
        }

        // Without ping the lab's first check would only time out, naming nothing.
        if (Executables.Find("ping") is null)
        {
            await output.WriteLineAsync("measure-outage: ping is not installed (apt-get install -y iputils-ping; scripts/test.sh installs it)").ConfigureAwait(false);
            return 2;
        }

        // --device veth: every xTR's ITR reads a veth pair through a packet ring (Xtr:DataPlane:Device).
        await using var lab = await NetnsLab.StartAsync(new WriterOutput(output), (_, config) =>
        {
            if (config["Xtr"]?["DataPlane"] is System.Text.Json.Nodes.JsonObject dataPlane) dataPlane["Device"] = device;
        }).ConfigureAwait(false);
        await lab.EventuallyAsync(async () =>
            (await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-c", "1", "-W", "1", "172.16.4.10"], TimeSpan.FromSeconds(10)).ConfigureAwait(false)).ExitCode == 0,
            TimeSpan.FromSeconds(30), "the branch host reaches the VM").ConfigureAwait(false);
        // The round trip through both ITRs at a light rate (100 pings, 20 ms apart), where a ring's block timeout would show.
        var rtt = await NetnsLab.RunAsync("ip", ["netns", "exec", lab.Ns("bh"), "ping", "-n", "-q", "-c", "100", "-i", "0.02", "172.16.4.10"], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        await output.WriteLineAsync($"device {device}; light-rate round trip: {rtt.Output.Split('\n').LastOrDefault(l => l.StartsWith("rtt", StringComparison.Ordinal))?.Trim()}").ConfigureAwait(false);
        using var pinger = Pinger.Start(lab.Ns("bh"), "172.16.4.10", TimeSpan.FromMilliseconds(5));
        await pinger.ReplyAfterAsync(pinger.Now - TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        // A first move long after the agents' start, not the one right after it (what the start still compiles).
        await Task.Delay(settle).ConfigureAwait(false);
        var lost = new List<int>();
        var outage = new List<double>();
        var failed = 0;
        for (var i = 0; i < moves; i++)
        {
            var to = i % 2 == 0 ? "dc2" : "dc1";
            await Task.Delay(1500).ConfigureAwait(false); // past the hold-down, and a steady stream before the move
            var from = pinger.Now;
            output.WriteLine($"move {i + 1} to {to} starts at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
            await lab.MoveVmAsync(to).ConfigureAwait(false);
            if (!await pinger.ReplyAfterAsync(pinger.Now, TimeSpan.FromSeconds(30)).ConfigureAwait(false))
            {
                failed++;
                continue;
            }

            await Task.Delay(500).ConfigureAwait(false);
            var (l, o) = pinger.OutageAfter(from);
            lost.Add(l);
            outage.Add(o.TotalMilliseconds);
            // The silence's two ends, on the clock of the agents' logs: the GARP they log falls between them.
            var arrivals = pinger.Replies.Where(r => r.At >= from).Select(r => r.At)
                .Concat(pinger.Replies.Where(r => r.At < from).Select(r => r.At).Order().TakeLast(1)).Order().ToList();
            var gap = Enumerable.Range(1, Math.Max(0, arrivals.Count - 1)).MaxBy(k => arrivals[k] - arrivals[k - 1]);
            output.WriteLine($"move {i + 1} to {to}: {l} lost, outage {o.TotalMilliseconds:0} ms" +
                (gap > 0 ? $" (last reply {Clock(arrivals[gap - 1])}, first after {Clock(arrivals[gap])})" : ""));
        }

        // The agents' logs (their timestamps against the move starts above) say where the time of each move went.
        if (logs is not null)
        {
            Directory.CreateDirectory(logs);
            foreach (var file in Directory.GetFiles(lab.Directory, "*.log")) File.Copy(file, Path.Combine(logs, Path.GetFileName(file)), overwrite: true);
        }

        output.WriteLine($"| live move, pings every 5 ms from the branch host | {outage.Count} of {moves} moves (no reply within 30 s: {failed}) | " +
            $"lost p50 {P(lost.Select(x => (double)x).ToList(), 0.5):0}, max {lost.DefaultIfEmpty().Max()}; outage p50 {P(outage, 0.5):0} ms, max {outage.DefaultIfEmpty().Max():0} ms |");
        return 0;
    }

    private static string Clock(TimeSpan sinceEpoch) => (DateTimeOffset.UnixEpoch + sinceEpoch).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static double P(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(q * sorted.Count))];
    }

    /// <summary>The lab's log lines (the switchover's time among them) into the run's output.</summary>
    private sealed class WriterOutput(TextWriter writer) : Xunit.Abstractions.ITestOutputHelper
    {
        public void WriteLine(string message) => writer.WriteLine(message);

        public void WriteLine(string format, params object[] args) => writer.WriteLine(format, args);
    }
}
