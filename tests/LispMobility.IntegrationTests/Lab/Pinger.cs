using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// <c>ping</c> from a lab namespace at a fixed interval, its replies recorded with the time they arrived (a stopwatch of
/// this process), so that a test sees when replies stop and resume around a move.
/// </summary>
internal sealed partial class Pinger : IDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(int Sequence, TimeSpan At)> _replies = [];

    private Pinger(string ns, string target, TimeSpan interval)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "ping", "-n", "-W", "1", "-i", interval.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), target })
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null || Sequence().Match(e.Data) is not { Success: true } m) return;
            lock (_replies) _replies.Add((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), _clock.Elapsed));
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts pinging <paramref name="target"/> from namespace <paramref name="ns"/> every <paramref name="interval"/>.</summary>
    public static Pinger Start(string ns, string target, TimeSpan interval) => new(ns, target, interval);

    /// <summary>Now, on the clock replies are recorded with.</summary>
    public TimeSpan Now => _clock.Elapsed;

    /// <summary>The replies so far: sequence number and arrival.</summary>
    public IReadOnlyList<(int Sequence, TimeSpan At)> Replies
    {
        get { lock (_replies) return [.. _replies]; }
    }

    /// <summary>Waits until a reply arrives after <paramref name="since"/>; false after <paramref name="deadline"/>.</summary>
    public async Task<bool> ReplyAfterAsync(TimeSpan since, TimeSpan deadline)
    {
        var end = _clock.Elapsed + deadline;
        while (_clock.Elapsed < end)
        {
            if (Replies.Any(r => r.At > since)) return true;
            await Task.Delay(20).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>
    /// The longest silence between <paramref name="from"/> and the first reply after a gap in the sequence that follows it:
    /// the replies lost and the time from the last reply before the gap to the first after it; (0, 0) without a gap.
    /// </summary>
    public (int Lost, TimeSpan Outage) OutageAfter(TimeSpan from)
    {
        var replies = Replies.Where(r => r.At >= from).OrderBy(r => r.Sequence).ToList();
        var worst = (Lost: 0, Outage: TimeSpan.Zero);
        for (var i = 1; i < replies.Count; i++)
        {
            var lost = replies[i].Sequence - replies[i - 1].Sequence - 1;
            if (lost > worst.Lost) worst = (lost, replies[i].At - replies[i - 1].At);
        }

        return worst;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"icmp_seq=(\d+)")]
    private static partial Regex Sequence();
}
