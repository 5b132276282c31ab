using System.Globalization;
using Microsoft.Extensions.Configuration;
using LispMobility.Agent.Configuration;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>Where the agent logs (config section <c>Log</c>); levels per category stay in Serilog's own <c>Serilog</c> section.</summary>
public sealed record LogOptions
{
    /// <summary>The configuration section these options come from.</summary>
    public const string SectionName = "Log";

    /// <summary>The lowest level written anywhere (a <c>Serilog:MinimumLevel:Override</c> can still lower one category).</summary>
    public LogEventLevel MinimumLevel { get; init; } = LogEventLevel.Information;

    /// <summary>Write to the console (turned off under systemd when the journal sink is on, or the journal gets every line twice).</summary>
    public bool Console { get; init; } = true;

    /// <summary>Write a daily rolling file in <see cref="Directory"/>.</summary>
    public bool File { get; init; } = true;

    /// <summary>The log directory: /var/log/lispmobility (the unit's LogsDirectory=), or %ProgramData%\LispMobility\logs.</summary>
    public string Directory { get; init; } = DefaultDirectory;

    /// <summary>How many daily files to keep.</summary>
    public int RetainedFileCount { get; init; } = 14;

    /// <summary>A file that reaches this size rolls over early.</summary>
    public long FileSizeLimitBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Journal: null = when running under systemd, true = always, false = never.</summary>
    public bool? Journald { get; init; }

    /// <summary>The journal's native socket (Linux only: a file for Windows may not set it).</summary>
    public string JournalSocket { get; init; } = JournaldSink.DefaultSocketPath;

    /// <summary>Write to the Windows Event Log (Windows only; ignored elsewhere).</summary>
    public bool EventLog { get; init; } = true;

    /// <summary>The platform's log directory.</summary>
    public static string DefaultDirectory => OperatingSystem.IsWindows()
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "LispMobility", "logs")
        : "/var/log/lispmobility";

    /// <summary>Reads the section, collecting every problem (each naming its config path).</summary>
    /// <param name="configuration">The configuration holding the section.</param>
    /// <param name="errors">Every problem found.</param>
    /// <param name="os">The system the file is for (paths are judged for it); this one by default.</param>
    /// <returns>The options, or null with <paramref name="errors"/> filled.</returns>
    public static LogOptions? FromConfiguration(IConfiguration configuration, out IReadOnlyList<string> errors, TargetOs? os = null)
    {
        var target = os ?? TargetOsRules.Current;
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        var problems = new List<string>();
        var o = new LogOptions();
        string Path(string key) => $"{SectionName}:{key}";

        if (section[nameof(MinimumLevel)] is { } level)
        {
            if (Enum.TryParse<LogEventLevel>(level, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !char.IsAsciiDigit(level[0]))
                o = o with { MinimumLevel = parsed };
            else problems.Add($"{Path(nameof(MinimumLevel))}: '{level}' is not one of {MappingSystem.Configuration.LogLevelNames.Expected}");
        }
        o = o with
        {
            Console = Bool(section, nameof(Console), o.Console, problems),
            File = Bool(section, nameof(File), o.File, problems),
            EventLog = Bool(section, nameof(EventLog), o.EventLog, problems),
        };
        if (section[nameof(Journald)] is { } journald)
        {
            if (journald.Equals("auto", StringComparison.OrdinalIgnoreCase)) o = o with { Journald = null };
            else if (bool.TryParse(journald, out var on)) o = o with { Journald = on };
            else problems.Add($"{Path(nameof(Journald))}: '{journald}' must be true, false or auto");
        }
        if (section[nameof(Directory)] is { } dir)
        {
            if (target.IsAbsolutePath(dir)) o = o with { Directory = dir };
            else problems.Add($"{Path(nameof(Directory))}: {target.NotAbsolute(dir, target == TargetOs.Windows ? @"C:\ProgramData\LispMobility\logs" : "/var/log/lispmobility")}");
        }
        if (section[nameof(JournalSocket)] is { } socket)
        {
            // Like the data plane and the sniffer: a Linux-only setting is refused in a file for Windows, not silently ignored.
            if (target == TargetOs.Windows)
                problems.Add($"{Path(nameof(JournalSocket))}: the journald socket exists on Linux only (on Windows the agent logs to the Event Log); remove the key (the file is validated for Windows; --os linux if it is for Linux)");
            else if (target.IsAbsolutePath(socket)) o = o with { JournalSocket = socket };
            else problems.Add($"{Path(nameof(JournalSocket))}: {target.NotAbsolute(socket, JournaldSink.DefaultSocketPath)}");
        }
        if (section[nameof(RetainedFileCount)] is { } retained)
        {
            if (int.TryParse(retained, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 1) o = o with { RetainedFileCount = n };
            else problems.Add($"{Path(nameof(RetainedFileCount))}: '{retained}' must be a whole number ≥ 1");
        }
        if (section[nameof(FileSizeLimitBytes)] is { } limit)
        {
            if (long.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= 4096) o = o with { FileSizeLimitBytes = n };
            else problems.Add($"{Path(nameof(FileSizeLimitBytes))}: '{limit}' must be a whole number ≥ 4096");
        }
        errors = problems;
        return problems.Count == 0 ? o : null;
    }

    private static bool Bool(IConfigurationSection section, string key, bool fallback, List<string> problems)
    {
        if (section[key] is not { } text) return fallback;
        if (bool.TryParse(text, out var value)) return value;
        problems.Add($"{SectionName}:{key}: '{text}' must be true or false");
        return fallback;
    }
}
