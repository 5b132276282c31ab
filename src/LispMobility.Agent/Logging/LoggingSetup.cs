using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>What the process can tell about where it runs, for choosing sinks; tests build one by hand.</summary>
/// <param name="IsWindows">Running on Windows (Event Log available).</param>
/// <param name="UnderSystemd">Started by systemd (<c>$INVOCATION_ID</c> or <c>$JOURNAL_STREAM</c> set).</param>
public sealed record LoggingEnvironment(bool IsWindows, bool UnderSystemd)
{
    /// <summary>This process's environment.</summary>
    public static LoggingEnvironment Detect() => new(
        OperatingSystem.IsWindows(),
        // systemd sets INVOCATION_ID for every unit it starts, and JOURNAL_STREAM when stdout/stderr go to the journal.
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID"))
        || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM")));
}

/// <summary>Builds the agent's Serilog logger: console, rolling file, journald under systemd, Event Log on Windows.</summary>
public static class LoggingSetup
{
    /// <summary>The text layout of console and file lines: the event id after the category, an exception's stack only at Debug.</summary>
    public const string OutputTemplate =
        "{Timestamp:yyyy-MM-ddTHH:mm:ss.fffzzz} [{Level:u3}] {SourceContext}{EventNumber:l}: {Message:lj}{ExceptionDetail:l}{NewLine}";

    /// <summary>The sinks <see cref="CreateLogger"/> would attach, by name, for these options and environment.</summary>
    public static IReadOnlyList<string> ChooseSinks(LogOptions options, LoggingEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var sinks = new List<string>();
        var journald = !environment.IsWindows && (options.Journald ?? (environment.UnderSystemd && System.IO.File.Exists(options.JournalSocket)));
        // Under systemd, stdout already goes to the journal: with the native sink on too, each line would appear twice.
        if (options.Console && !(journald && environment.UnderSystemd)) sinks.Add("console");
        if (options.File) sinks.Add("file");
        if (journald) sinks.Add("journald");
        if (environment.IsWindows && options.EventLog) sinks.Add("eventlog");
        return sinks;
    }

    /// <summary>The logger for the service. <paramref name="configuration"/>'s <c>Serilog</c> section, when present, adds
    /// per-category levels and enrichers (do not list sinks there: they would be added on top of these).</summary>
    /// <param name="levelSwitch">When given, the level follows it (set to <see cref="LogOptions.MinimumLevel"/> here), so that the
    /// management API can change it at run time.</param>
    public static Logger CreateLogger(LogOptions options, LoggingEnvironment environment, IConfiguration? configuration = null, LoggingLevelSwitch? levelSwitch = null)
    {
        var sinks = ChooseSinks(options, environment);
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(options.MinimumLevel)
            .Enrich.FromLogContext()
            .Enrich.With(new OperatorLogEnricher(stackTraces: options.MinimumLevel <= LogEventLevel.Debug))
            // One line per HTTP request is noise for an agent whose API is polled by scripts; a Serilog:MinimumLevel:Override
            // for the category in the configuration still wins, since it is read after this.
            .MinimumLevel.Override("Microsoft.AspNetCore", (LogEventLevel)Math.Max((int)LogEventLevel.Warning, (int)options.MinimumLevel));
        if (configuration?.GetSection("Serilog").Exists() == true) config = config.ReadFrom.Configuration(configuration);
        // Serilog's own section may lower the default; the validated option wins for the sinks we own.
        if (levelSwitch is null) config.MinimumLevel.Is(options.MinimumLevel);
        else
        {
            levelSwitch.MinimumLevel = options.MinimumLevel;
            config.MinimumLevel.ControlledBy(levelSwitch);
        }

        foreach (var sink in sinks)
        {
            switch (sink)
            {
                case "console":
                    config.WriteTo.Console(outputTemplate: OutputTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                        standardErrorFromLevel: LogEventLevel.Error);
                    break;
                case "file":
                    config.WriteTo.File(Path.Combine(options.Directory, "lispmobility-.log"),
                        outputTemplate: OutputTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                        rollingInterval: RollingInterval.Day, retainedFileCountLimit: options.RetainedFileCount,
                        fileSizeLimitBytes: options.FileSizeLimitBytes, rollOnFileSizeLimit: true);
                    break;
                case "journald":
                    config.WriteTo.Sink(new JournaldSink(options.JournalSocket, formatProvider: System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case "eventlog" when OperatingSystem.IsWindows():
                    config.WriteTo.Sink(new EventLogSink(formatProvider: System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
        return config.CreateLogger();
    }

    /// <summary>A console-only logger for the moments before the configuration is read (and for CLI verbs).</summary>
    public static Logger CreateBootstrapLogger() => new LoggerConfiguration()
        .MinimumLevel.Information()
        .Enrich.With(new OperatorLogEnricher(stackTraces: false))
        .WriteTo.Console(outputTemplate: OutputTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture,
            standardErrorFromLevel: LogEventLevel.Warning)
        .CreateLogger();
}
