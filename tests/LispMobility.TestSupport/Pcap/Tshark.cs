using System.Diagnostics;
using System.Text.RegularExpressions;

namespace LispMobility.TestSupport.Pcap;

/// <summary>
/// Runs Wireshark's command-line decoder over a capture file: the independent check that what the
/// product writes is what the RFCs (and deployed gear) expect.
/// </summary>
public static class Tshark
{
    /// <summary>Decode-as arguments that make tshark treat the LISP ports as LISP control and data.</summary>
    public static readonly IReadOnlyList<string> LispDecodeAs = ["-d", "udp.port==4342,lisp", "-d", "udp.port==4341,lisp-data"];

    /// <summary>Preferences that make tshark verify IPv4 and UDP checksums, so a wrong one shows as an error-level expert item.</summary>
    public static readonly IReadOnlyList<string> ChecksumChecks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"];

    private static readonly Lazy<string?> Executable = new(() => Executables.Find("tshark"));

    /// <summary>The tshark executable on PATH, or null.</summary>
    public static string? ExecutablePath => Executable.Value;

    /// <summary>True when tshark can be run.</summary>
    public static bool IsAvailable => ExecutablePath is not null;

    /// <summary>Runs tshark with <paramref name="arguments"/> and returns what it printed; throws when tshark is missing or hangs.</summary>
    public static TsharkResult Run(IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var exe = ExecutablePath ?? throw new InvalidOperationException("tshark is not installed (apt-get install tshark; scripts/test.sh does this)");
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);

        using var process = Process.Start(info) ?? throw new InvalidOperationException("tshark did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("tshark did not finish within the time limit");
        }

        process.WaitForExit();
        return new TsharkResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>The full packet details (-V) of every frame in <paramref name="pcapPath"/>, LISP ports decoded as LISP, checksums verified.</summary>
    public static TsharkResult DecodeVerbose(string pcapPath, params string[] extraArguments)
    {
        ArgumentNullException.ThrowIfNull(extraArguments);
        return Run(["-r", pcapPath, "-V", .. LispDecodeAs, .. ChecksumChecks, .. extraArguments]);
    }

    /// <summary>The values of <paramref name="fields"/> (tshark -T fields), one row per frame, columns tab-separated.</summary>
    public static IReadOnlyList<string[]> DecodeFields(string pcapPath, params string[] fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        List<string> args = ["-r", pcapPath, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", .. LispDecodeAs];
        foreach (var f in fields) { args.Add("-e"); args.Add(f); }
        var result = Run(args);
        result.EnsureSuccess();
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToArray();
    }
}

/// <summary>What one tshark run printed.</summary>
public sealed partial record TsharkResult(int ExitCode, string Output, string Error)
{
    /// <summary>True when tshark flagged a malformed packet or an error-level expert item.</summary>
    public bool HasDecodeErrors =>
        Output.Contains("Malformed", StringComparison.OrdinalIgnoreCase) ||
        Output.Contains("Expert Info (Error", StringComparison.Ordinal) ||
        Output.Contains("[Dissector bug", StringComparison.Ordinal);

    /// <summary>The -V text of each frame, in capture order.</summary>
    public IReadOnlyList<string> Frames =>
        FrameStart().Split(Output).Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => "Frame " + s).ToArray();

    /// <summary>The lines of the output that mention a decode problem, for assertion messages.</summary>
    public string DecodeErrorLines => string.Join('\n', Output.Split('\n').Where(l =>
        l.Contains("Malformed", StringComparison.OrdinalIgnoreCase) || l.Contains("Expert Info (", StringComparison.Ordinal)));

    /// <summary>Throws when tshark exited with an error.</summary>
    public void EnsureSuccess()
    {
        if (ExitCode != 0) throw new InvalidOperationException($"tshark exited with {ExitCode}: {Error}");
    }

    [GeneratedRegex(@"^Frame (?=\d+:)", RegexOptions.Multiline)]
    private static partial Regex FrameStart();
}
