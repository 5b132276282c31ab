using System.Diagnostics;
using System.Globalization;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>One <c>lispmobility run</c> process inside a lab namespace, its output kept in a log file for diagnostics.</summary>
public sealed class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private AgentProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    /// <summary>The agent's pid (ip netns exec execs dotnet, so this is the agent itself).</summary>
    public int Pid => _process.Id;

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Starts <c>ip netns exec NS dotnet DLL run --config FILE</c>, appending its output to <paramref name="logFile"/>.</summary>
    public static AgentProcess Start(string ns, string dll, string config, string logFile)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "dotnet", dll, "run", "--config", config }) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new AgentProcess(process, log);
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output that arrives after the test closed the log is not needed.
            }
        }
    }

    /// <summary>SIGKILL: the crash the journal must survive.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM and wait; SIGKILL when it does not stop in time.</summary>
    public void Stop()
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (!_process.WaitForExit(15_000)) Kill();
    }

    /// <summary>Resident memory (VmRSS) in KiB, from /proc.</summary>
    public long RssKib()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }

        return -1;
    }

    /// <summary>CPU time used so far (utime + stime from /proc/PID/stat).</summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // The command name may hold spaces: fields are counted after its closing parenthesis.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    /// <summary>Stops the process (SIGKILL: the namespace is going away anyway).</summary>
    public void Dispose()
    {
        try
        {
            Kill();
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
        lock (_log) _log.Dispose();
    }
}
