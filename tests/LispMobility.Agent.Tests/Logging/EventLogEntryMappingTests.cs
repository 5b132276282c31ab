using LispMobility.Agent.Logging;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace LispMobility.Agent.Tests.Logging;

public sealed class EventLogEntryMappingTests
{
    [Theory]
    [InlineData(LogEventLevel.Verbose, EventLogEntryKind.Information)]
    [InlineData(LogEventLevel.Debug, EventLogEntryKind.Information)]
    [InlineData(LogEventLevel.Information, EventLogEntryKind.Information)]
    [InlineData(LogEventLevel.Warning, EventLogEntryKind.Warning)]
    [InlineData(LogEventLevel.Error, EventLogEntryKind.Error)]
    [InlineData(LogEventLevel.Fatal, EventLogEntryKind.Error)]
    public void Level_maps_to_entry_type(LogEventLevel level, EventLogEntryKind kind) =>
        Assert.Equal(kind, EventLogEntryMapping.EntryType(level));

    [Fact]
    public void Entry_kinds_carry_the_Win32_EVENTLOG_type_values_ReportEvent_takes() =>
        Assert.Equal([1, 2, 4], new[] { (int)EventLogEntryKind.Error, (int)EventLogEntryKind.Warning, (int)EventLogEntryKind.Information });

    [Theory]
    [InlineData(1000, 1000)]
    [InlineData(65535, 65535)]
    [InlineData(65536, 0)]
    [InlineData(-1, 0)]
    [InlineData(0, 0)]
    public void Event_id_comes_from_the_logger_event_id_within_16_bits(int eventId, int expected)
    {
        var captured = CaptureFromMicrosoftLogger(logger => logger.Log(LogLevel.Warning, new EventId(eventId, "X"), "moved {Vm}", "web01"));

        Assert.Equal(expected, EventLogEntryMapping.EventId(captured));
    }

    [Fact]
    public void Event_id_is_0_when_the_event_has_none()
    {
        var captured = Capture(logger => logger.Information("plain Serilog event"));
        Assert.Equal(0, EventLogEntryMapping.EventId(captured));
    }

    [Fact]
    public void Message_holds_the_rendered_text_and_the_exception_cut_to_the_Event_Log_limit()
    {
        var exception = new InvalidOperationException("boom");
        var captured = Capture(logger => logger.Error(exception, "failed for {Vm}", "web01"));

        var message = EventLogEntryMapping.Message(captured);

        Assert.StartsWith("failed for web01", message, StringComparison.Ordinal);
        Assert.Contains("System.InvalidOperationException: boom", message, StringComparison.Ordinal);

        var huge = Capture(logger => logger.Information("{Text}", new string('x', 40_000)));
        var cut = EventLogEntryMapping.Message(huge);
        Assert.Equal(EventLogEntryMapping.MaxMessageLength, cut.Length);
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
    }

    private static LogEvent Capture(Action<Serilog.ILogger> write)
    {
        var sink = new CollectingSink();
        using (var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger()) write(logger);
        return Assert.Single(sink.Events);
    }

    private static LogEvent CaptureFromMicrosoftLogger(Action<Microsoft.Extensions.Logging.ILogger> write)
    {
        var sink = new CollectingSink();
        using (var serilog = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger())
        using (var factory = new SerilogLoggerFactory(serilog))
            write(factory.CreateLogger("test"));
        return Assert.Single(sink.Events);
    }

    private sealed class CollectingSink : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];

        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }
}
