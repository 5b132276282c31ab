using System.Buffers.Binary;
using System.Text;
using LispMobility.Agent.Logging;
using LispMobility.Agent.Tests.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace LispMobility.Agent.Tests.Logging;

public sealed class JournaldSinkTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public void A_simple_event_is_KEY_value_lines_with_priority_identifier_and_properties()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        using (var logger = LoggerTo(journal.Address))
            logger.Warning("VM {VmName} moved to {Site}", "web01", "dc2");

        var datagram = journal.Receive(Wait)!;

        Assert.Equal(
            "MESSAGE=VM web01 moved to dc2\nPRIORITY=4\nSYSLOG_IDENTIFIER=lispmobility\nVM_NAME=web01\nSITE=dc2\n",
            Encoding.UTF8.GetString(datagram));
    }

    [Fact]
    public void Multi_line_values_use_the_binary_length_form()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        var exception = Capture(() => throw new InvalidOperationException("route table full"));
        using (var logger = LoggerTo(journal.Address))
            logger.Error(exception, "Line one\nline two for {Eid}", "10.1.0.5/32");

        var fields = Decode(journal.Receive(Wait)!);

        Assert.Equal("Line one\nline two for 10.1.0.5/32", fields["MESSAGE"]);
        Assert.Equal("3", fields["PRIORITY"]);
        Assert.Equal("10.1.0.5/32", fields["EID"]);
        Assert.StartsWith("System.InvalidOperationException: route table full", fields["EXCEPTION"], StringComparison.Ordinal);
        Assert.Contains('\n', fields["EXCEPTION"]);
    }

    [Theory]
    [InlineData(LogEventLevel.Verbose, "7")]
    [InlineData(LogEventLevel.Debug, "7")]
    [InlineData(LogEventLevel.Information, "6")]
    [InlineData(LogEventLevel.Warning, "4")]
    [InlineData(LogEventLevel.Error, "3")]
    [InlineData(LogEventLevel.Fatal, "2")]
    public void Priority_follows_syslog_levels(LogEventLevel level, string priority)
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        using (var logger = LoggerTo(journal.Address, LogEventLevel.Verbose))
            logger.Write(level, "x");

        Assert.Equal(priority, Decode(journal.Receive(Wait)!)["PRIORITY"]);
    }

    [Fact]
    public void Events_from_Microsoft_Extensions_Logging_carry_the_event_id_and_category()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        using (var serilog = LoggerTo(journal.Address))
        using (var factory = new SerilogLoggerFactory(serilog))
        {
            var logger = factory.CreateLogger("LispMobility.Mobility.MoveSaga");
            logger.Log(LogLevel.Information, new EventId(3001, "MoveCommitted"), "Committed move of {EidPrefix}", "10.1.0.5/32");
        }

        var fields = Decode(journal.Receive(Wait)!);

        Assert.Equal("3001", fields["EVENT_ID"]);
        Assert.Equal("MoveCommitted", fields["EVENT_NAME"]);
        Assert.Equal("LispMobility.Mobility.MoveSaga", fields["SOURCE_CONTEXT"]);
        Assert.Equal("10.1.0.5/32", fields["EID_PREFIX"]);
        Assert.Equal("6", fields["PRIORITY"]);
    }

    [Theory]
    [InlineData("SourceContext", "SOURCE_CONTEXT")]
    [InlineData("vmName", "VM_NAME")]
    [InlineData("RLOC", "RLOC")]
    [InlineData("Ipv4Address", "IPV4_ADDRESS")]
    [InlineData("_private", "PRIVATE")]
    [InlineData("1st", "F_1ST")]
    [InlineData("a.b-c", "A_B_C")]
    [InlineData("___", null)]
    public void Property_names_become_valid_journal_field_names(string property, string? field) =>
        Assert.Equal(field, JournaldFormat.FieldName(property));

    [Fact]
    public void A_property_named_like_a_field_the_sink_owns_cannot_override_it()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        using (var logger = LoggerTo(journal.Address))
            logger.ForContext("Priority", "0").ForContext("Message", "forged").Information("real");

        var text = Encoding.UTF8.GetString(journal.Receive(Wait)!);

        Assert.Equal("MESSAGE=real\nPRIORITY=6\nSYSLOG_IDENTIFIER=lispmobility\n", text);
    }

    [Fact]
    public void An_absent_journal_socket_does_not_throw_and_the_failed_send_is_reported_to_selflog()
    {
        var dir = Directory.CreateTempSubdirectory("lm-journal-").FullName;
        var selfLog = new StringWriter();
        Serilog.Debugging.SelfLog.Enable(TextWriter.Synchronized(selfLog));
        try
        {
            var path = Path.Combine(dir, "socket");
            using var sink = new JournaldSink(path);
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            logger.Information("nobody listens");

            Assert.Contains("journald sink: sending", selfLog.ToString(), StringComparison.Ordinal);
            Assert.Contains(path, selfLog.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Serilog.Debugging.SelfLog.Disable();
            Directory.Delete(dir, true);
        }
    }

    private static Serilog.Core.Logger LoggerTo(string socketPath, LogEventLevel minimum = LogEventLevel.Information) =>
        new LoggerConfiguration().MinimumLevel.Is(minimum).WriteTo.Sink(new JournaldSink(socketPath)).CreateLogger();

    private static Exception Capture(Action thrower)
    {
        try { thrower(); }
        catch (Exception e) { return e; }
        throw new InvalidOperationException("did not throw");
    }

    /// <summary>A reader of the native protocol as journald implements it, independent of the sink's writer.</summary>
    internal static Dictionary<string, string> Decode(byte[] datagram)
    {
        var fields = new Dictionary<string, string>();
        var span = datagram.AsSpan();
        while (!span.IsEmpty)
        {
            var newline = span.IndexOf((byte)'\n');
            Assert.True(newline > 0, "field without a terminating newline");
            var head = span[..newline];
            var equals = head.IndexOf((byte)'=');
            if (equals >= 0)
            {
                fields.Add(Encoding.ASCII.GetString(head[..equals]), Encoding.UTF8.GetString(head[(equals + 1)..]));
                span = span[(newline + 1)..];
            }
            else
            {
                var name = Encoding.ASCII.GetString(head);
                span = span[(newline + 1)..];
                var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span));
                fields.Add(name, Encoding.UTF8.GetString(span.Slice(8, length)));
                Assert.Equal((byte)'\n', span[8 + length]);
                span = span[(8 + length + 1)..];
            }
        }
        Assert.All(fields.Keys, k => Assert.Matches("^[A-Z0-9][A-Z0-9_]{0,63}$", k));
        return fields;
    }
}
