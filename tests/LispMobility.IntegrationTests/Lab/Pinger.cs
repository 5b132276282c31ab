using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>
/// <c>ping</c> from a lab namespace at a fixed interval, its replies recorded with the time they arrived (ping's own receive
/// timestamp, <c>-D</c>, so that buffering of its output does not skew them), so that a test sees when replies stop and
/// resume around a move.
/// </summary>
internal sealed partial class Pinger : IDisposable
{
    private readonly Process _process;
    private readonly List<(int Sequence, TimeSpan At)> _replies = [];

    private Pinger(string ns, string target, TimeSpan interval)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "ping", "-n", "-D", "-W", "1", "-i", interval.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), target })
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null || Sequence().Match(e.Data) is not { Success: true } m) return;
            var at = TimeSpan.FromSeconds(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            lock (_replies) _replies.Add((int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), at));
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts pinging <paramref name="target"/> from namespace <paramref name="ns"/> every <paramref name="interval"/>.</summary>
    public static Pinger Start(string ns, string target, TimeSpan interval) => new(ns, target, interval);

    /// <summary>Now, on the clock replies are recorded with (Unix time, as ping's -D prints it).</summary>
    public TimeSpan Now => DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch;

    /// <summary>The replies so far: sequence number and arrival.</summary>
    public IReadOnlyList<(int Sequence, TimeSpan At)> Replies
    {
        get { lock (_replies) return [.. _replies]; }
    }

    /// <summary>Waits until a reply arrives after <paramref name="since"/>; false after <paramref name="deadline"/>.</summary>
    public async Task<bool> ReplyAfterAsync(TimeSpan since, TimeSpan deadline)
    {
        var end = Now + deadline;
        while (Now < end)
        {
            if (Replies.Any(r => r.At > since)) return true;
            await Task.Delay(20).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>
    /// What the pings sent after <paramref name="from"/> lost: the sequence numbers since the last reply before it that were
    /// never answered, and the longest silence between two consecutive replies in arrival order, that last reply before
    /// <paramref name="from"/> included (a silence that starts right at <paramref name="from"/> counts whole; late replies,
    /// e.g. ones an ARP queue held, do not shorten it); (0, 0) when nothing was lost.
    /// </summary>
    public (int Lost, TimeSpan Outage) OutageAfter(TimeSpan from)
    {
        var all = Replies;
        var before = all.Where(r => r.At < from).OrderBy(r => r.At).LastOrDefault();
        var replies = all.Where(r => r.At >= from).ToList();
        if (before != default) replies.Add(before);
        if (replies.Count < 2) return (0, TimeSpan.Zero);
        var sequences = replies.Select(r => r.Sequence).ToHashSet();
        var lost = Enumerable.Range(sequences.Min(), sequences.Max() - sequences.Min() + 1).Count(s => !sequences.Contains(s));
        var outage = TimeSpan.Zero;
        var arrivals = replies.Select(r => r.At).Order().ToList();
        for (var i = 1; i < arrivals.Count; i++)
        {
            if (arrivals[i] - arrivals[i - 1] > outage) outage = arrivals[i] - arrivals[i - 1];
        }

        return (lost, lost == 0 ? TimeSpan.Zero : outage);
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

    [GeneratedRegex(@"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")]
    private static partial Regex Sequence();
}
