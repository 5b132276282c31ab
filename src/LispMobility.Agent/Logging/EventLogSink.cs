using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>A Serilog sink that writes to the Windows Event Log under the source the installer registered.</summary>
/// <remarks>
/// Serilog.Sinks.EventLog is not on our feed. The source must exist (install.ps1 creates it as Administrator); creating
/// it here would need admin rights the service does not have, so a missing source is reported through SelfLog.
/// </remarks>
[SupportedOSPlatform("windows")]
public sealed class EventLogSink : ILogEventSink, IDisposable
{
    private readonly EventLog _eventLog;
    private readonly IFormatProvider? _formatProvider;

    /// <summary>Creates the sink for a source in a log (the installer's are "LispMobility" in "Application").</summary>
    public EventLogSink(string source = EventLogEntryMapping.DefaultSource, string logName = "Application", IFormatProvider? formatProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(logName);
        _eventLog = new EventLog(logName) { Source = source };
        _formatProvider = formatProvider;
    }

    /// <inheritdoc/>
    public void Emit(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        try
        {
            _eventLog.WriteEntry(EventLogEntryMapping.Message(logEvent, _formatProvider),
                (EventLogEntryType)EventLogEntryMapping.EntryType(logEvent.Level), EventLogEntryMapping.EventId(logEvent));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or System.ComponentModel.Win32Exception
                                       or System.Security.SecurityException)
        {
            SelfLog.WriteLine("event log sink: writing to source {0} failed: {1}", _eventLog.Source, e.Message);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _eventLog.Dispose();
}

/// <summary>How a Serilog event becomes an Event Log entry: entry type, event id and message text. Pure, so testable anywhere.</summary>
public static class EventLogEntryMapping
{
    /// <summary>The Event Log source the Windows installer registers.</summary>
    public const string DefaultSource = "LispMobility";

    /// <summary>ReportEvent's limit for one message string is 31,839 characters.</summary>
    public const int MaxMessageLength = 31_839;

    /// <summary>Warning and Error map across; Fatal is an Error too (the Event Log has nothing higher); the rest are Information.</summary>
    public static EventLogEntryKind EntryType(LogEventLevel level) => level switch
    {
        LogEventLevel.Warning => EventLogEntryKind.Warning,
        LogEventLevel.Error or LogEventLevel.Fatal => EventLogEntryKind.Error,
        _ => EventLogEntryKind.Information,
    };

    /// <summary>The event's <c>EventId.Id</c> (from Microsoft.Extensions.Logging), or 0 when absent or outside 0–65535.</summary>
    public static int EventId(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        if (!logEvent.Properties.TryGetValue("EventId", out var value)) return 0;
        var id = value switch
        {
            StructureValue s => s.Properties.FirstOrDefault(p => p.Name == "Id")?.Value as ScalarValue,
            ScalarValue scalar => scalar,
            _ => null,
        };
        // The Event Log keeps a 16-bit id; anything else would make WriteEntry throw.
        return id?.Value is IConvertible c && long.TryParse(c.ToString(CultureInfo.InvariantCulture), NumberStyles.AllowLeadingSign,
                   CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= ushort.MaxValue
            ? (int)n
            : 0;
    }

    /// <summary>The rendered message, the exception below it, cut to <see cref="MaxMessageLength"/>.</summary>
    public static string Message(LogEvent logEvent, IFormatProvider? formatProvider = null)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        var text = JournaldFormat.RenderMessage(logEvent, formatProvider);
        if (logEvent.Exception is { } exception) text += Environment.NewLine + exception;
        return text.Length <= MaxMessageLength ? text : text[..(MaxMessageLength - 1)] + "…";
    }
}

/// <summary>Event Log entry types with the Win32 values (EVENTLOG_*_TYPE) that <see cref="EventLogEntryType"/> carries.</summary>
/// <remarks>Our own copy because <see cref="EventLogEntryType"/> is marked Windows-only, and the mapping is tested on Linux.</remarks>
public enum EventLogEntryKind
{
    /// <summary>EVENTLOG_ERROR_TYPE.</summary>
    Error = 1,

    /// <summary>EVENTLOG_WARNING_TYPE.</summary>
    Warning = 2,

    /// <summary>EVENTLOG_INFORMATION_TYPE.</summary>
    Information = 4,
}
