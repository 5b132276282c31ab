using Serilog.Core;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>
/// Adds what the console and file lines show beside the message: the event id (<c>[3002]</c>, as the README and the Event
/// Log cite it) and the exception — one line with its messages normally, the stack trace only when logging at Debug or below.
/// </summary>
/// <remarks>Output templates cannot reach into Microsoft.Extensions.Logging's <c>EventId</c> structure, hence properties of their own.</remarks>
internal sealed class OperatorLogEnricher(bool stackTraces) : ILogEventEnricher
{
    public const string EventNumber = "EventNumber";
    public const string ExceptionDetail = "ExceptionDetail";

    /// <inheritdoc />
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        if (EventLogEntryMapping.EventId(logEvent) is > 0 and var id)
        {
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty(EventNumber, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{id}]")));
        }

        if (logEvent.Exception is { } e)
        {
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty(ExceptionDetail, stackTraces ? Environment.NewLine + e : $" ({Messages(e)})"));
        }
    }

    /// <summary>"TimeoutException: no reply; inner: SocketException: refused" — the chain of messages without the frames.</summary>
    internal static string Messages(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null && parts.Count < 4; x = x.InnerException) parts.Add($"{x.GetType().Name}: {x.Message}");
        return string.Join("; inner: ", parts);
    }
}
