using System.Diagnostics;

namespace LispMobility.TestSupport.Pcap;

/// <summary>
/// A tshark capture to a file, running until it has its packet count or its duration. <see cref="Start"/> returns once the
/// capture runs: under load that takes well over a second, and a packet sent before it is lost to the capture.
/// </summary>
/// <remarks>
/// tshark prints "Capturing on" before it even starts dumpcap, which opens the interface. "Capture started." comes when dumpcap
/// reports its capture file, which it opens after the interface and its filter: only then is a packet sure to be kept.
/// </remarks>
public sealed class TsharkCapture : IDisposable
{
    private readonly Process _process;

    private TsharkCapture(Process process, string path)
    {
        _process = process;
        Path = path;
    }

    /// <summary>The capture file.</summary>
    public string Path { get; }

    /// <summary>
    /// Captures up to <paramref name="count"/> packets matching <paramref name="filter"/> on <paramref name="device"/> (inside
    /// network namespace <paramref name="netns"/> when given) into <paramref name="path"/>, for at most <paramref name="duration"/>;
    /// with <paramref name="snapLength"/>, only each packet's first bytes (headers), so that a flood of 64 KB GSO packets does
    /// not overrun the capture's buffer while tshark waits for a core.
    /// </summary>
    public static TsharkCapture Start(string? netns, string device, string filter, int count, TimeSpan duration, string path, int snapLength = 0)
    {
        var exe = Tshark.ExecutablePath ?? throw new InvalidOperationException("tshark is not installed (apt-get install tshark; scripts/test.sh does this)");
        var info = new ProcessStartInfo(netns is null ? exe : "ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (netns is not null) foreach (var a in new[] { "netns", "exec", netns, exe }) info.ArgumentList.Add(a);
        foreach (var a in new[] { "-q", "-i", device, "-f", filter, "-c", count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "-a", "duration:" + (int)Math.Ceiling(duration.TotalSeconds), "-w", path })
        {
            info.ArgumentList.Add(a);
        }

        if (snapLength > 0)
        {
            info.ArgumentList.Add("-s");
            info.ArgumentList.Add(snapLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("tshark did not start");
        var capture = new TsharkCapture(process, path);
        using var capturing = new ManualResetEventSlim();
        var said = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (said) said.AppendLine(e.Data);
            if (e.Data.Contains("Capture started.", StringComparison.Ordinal)) capturing.Set();
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (!capturing.Wait(TimeSpan.FromSeconds(20)))
        {
            capture.Dispose();
            lock (said) throw new TimeoutException($"tshark did not report \"Capture started.\" on {device} within 20 s: {said}");
        }

        return capture;
    }

    /// <summary>Waits for tshark to finish (count reached or duration over); false when it is still running after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>Stops tshark if it still runs; the capture file stays.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        _process.Dispose();
    }
}
