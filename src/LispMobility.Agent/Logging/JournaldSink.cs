using System.Net.Sockets;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;

namespace LispMobility.Agent.Logging;

/// <summary>A Serilog sink that writes to the systemd journal over its native socket, keeping every property as a field.</summary>
/// <remarks>
/// Each event becomes MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, EXCEPTION (when there is one) and one upper-case field per
/// property, so <c>journalctl SYSLOG_IDENTIFIER=lispmobility VM_NAME=web01</c> finds a move. Serilog.Sinks.Journald is not
/// on our feed; the protocol is small. A failed send goes to Serilog's SelfLog: logging must never take the agent down.
/// </remarks>
public sealed class JournaldSink : ILogEventSink, IDisposable
{
    /// <summary>Where journald listens for native-protocol datagrams.</summary>
    public const string DefaultSocketPath = "/run/systemd/journal/socket";

    /// <summary>The SYSLOG_IDENTIFIER of the agent's entries.</summary>
    public const string DefaultIdentifier = "lispmobility";

    // Fields the sink writes itself; a property that maps onto one of them is left out rather than repeated.
    private static readonly HashSet<string> OwnFields =
        ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "EXCEPTION", "MESSAGE_ID", "EVENT_ID", "EVENT_NAME"];

    private readonly UnixDomainSocketEndPoint _endpoint;
    private readonly Socket _socket;
    private readonly string _identifier;
    private readonly IFormatProvider? _formatProvider;

    /// <summary>Creates the sink for a journal socket (a test passes its own path).</summary>
    public JournaldSink(string socketPath = DefaultSocketPath, string identifier = DefaultIdentifier, IFormatProvider? formatProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(identifier);
        _endpoint = new UnixDomainSocketEndPoint(socketPath);
        _identifier = identifier;
        _formatProvider = formatProvider;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        TryGrowSendBuffer();
    }

    /// <inheritdoc/>
    public void Emit(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        var datagram = Encode(logEvent, _identifier, _formatProvider);
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _endpoint);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            SelfLog.WriteLine("journald sink: sending {0} bytes to {1} failed: {2}", datagram.Length, _endpoint, e.Message);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _socket.Dispose();

    /// <summary>The datagram for one event.</summary>
    internal static byte[] Encode(LogEvent logEvent, string identifier, IFormatProvider? formatProvider)
    {
        using var output = new MemoryStream();
        JournaldFormat.AppendField(output, "MESSAGE", JournaldFormat.RenderMessage(logEvent, formatProvider));
        JournaldFormat.AppendField(output, "PRIORITY", JournaldFormat.Priority(logEvent.Level).ToString(System.Globalization.CultureInfo.InvariantCulture));
        JournaldFormat.AppendField(output, "SYSLOG_IDENTIFIER", identifier);
        if (logEvent.Exception is { } exception) JournaldFormat.AppendField(output, "EXCEPTION", exception.ToString());
        foreach (var (name, value) in logEvent.Properties)
        {
            // Microsoft.Extensions.Logging's EventId arrives as a structure {Id, Name}: two plain fields read better.
            if (name == "EventId" && value is StructureValue eventId)
            {
                foreach (var part in eventId.Properties)
                {
                    if (part.Name is "Id" or "Name")
                        JournaldFormat.AppendField(output, part.Name == "Id" ? "EVENT_ID" : "EVENT_NAME", JournaldFormat.Render(part.Value));
                }
                continue;
            }
            var field = JournaldFormat.FieldName(name);
            if (field is null || OwnFields.Contains(field)) continue;
            JournaldFormat.AppendField(output, field, JournaldFormat.Render(value));
        }
        return output.ToArray();
    }

    private void TryGrowSendBuffer()
    {
        try
        {
            // The kernel caps this at net.core.wmem_max; asking for more is harmless.
            _socket.SendBufferSize = 8 * 1024 * 1024;
        }
        catch (SocketException e)
        {
            SelfLog.WriteLine("journald sink: cannot enlarge the send buffer: {0}", e.Message);
        }
    }
}
