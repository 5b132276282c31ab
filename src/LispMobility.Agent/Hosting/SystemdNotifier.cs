using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Agent.Hosting;

/// <summary>The sd_notify protocol, written by us: one datagram of <c>KEY=value</c> lines to <c>$NOTIFY_SOCKET</c>.</summary>
/// <remarks>
/// Microsoft.Extensions.Hosting.Systemd is not on our feed, and the protocol is a few lines (sd_notify(3)).
/// Without <c>$NOTIFY_SOCKET</c> (not started by systemd, or a unit that is not Type=notify) every call is a
/// no-op, so the same binary runs from a shell, a test or a container unchanged. A failed send is logged and
/// swallowed: a lost READY makes systemd time the start out, which is the right failure, not a crash here.
/// </remarks>
public sealed partial class SystemdNotifier : IDisposable
{
    /// <summary>The environment variable systemd sets for a Type=notify service.</summary>
    public const string NotifySocketVariable = "NOTIFY_SOCKET";

    private readonly ILogger _logger;
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly Socket? _socket;
    private readonly string? _socketName;

    /// <summary>Creates a notifier for the given <c>$NOTIFY_SOCKET</c> value; null or empty disables it.</summary>
    public SystemdNotifier(string? notifySocket, ILogger<SystemdNotifier>? logger = null)
    {
        _logger = logger ?? NullLogger<SystemdNotifier>.Instance;
        if (string.IsNullOrEmpty(notifySocket)) return;
        _socketName = notifySocket;
        if (!TryParseEndpoint(notifySocket, out _endpoint))
        {
            LogUnsupportedSocket(_logger, notifySocket);
            return;
        }
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>A notifier for this process's <c>$NOTIFY_SOCKET</c>.</summary>
    public static SystemdNotifier FromEnvironment(ILogger<SystemdNotifier>? logger = null) =>
        new(Environment.GetEnvironmentVariable(NotifySocketVariable), logger);

    /// <summary>True when there is a socket to notify; false means every call does nothing.</summary>
    public bool IsEnabled => _socket is not null;

    /// <summary>Tells systemd that start-up is complete (<c>READY=1</c>), with an optional status line.</summary>
    public bool Ready(string? status = null) =>
        Notify(status is null ? "READY=1" : $"READY=1\nSTATUS={OneLine(status)}");

    /// <summary>Tells systemd that shutdown has begun (<c>STOPPING=1</c>).</summary>
    public bool Stopping() => Notify("STOPPING=1");

    /// <summary>Keeps the service watchdog (<c>WatchdogSec=</c>) from firing (<c>WATCHDOG=1</c>).</summary>
    public bool Watchdog() => Notify("WATCHDOG=1");

    /// <summary>Sets the free-form status line <c>systemctl status</c> shows.</summary>
    public bool Status(string status) => Notify($"STATUS={OneLine(status)}");

    /// <summary>Sends one raw notification (newline-separated assignments); false when disabled or the send failed.</summary>
    public bool Notify(string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_socket is null || _endpoint is null) return false;
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endpoint);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            LogNotifyFailed(_logger, _socketName, FirstKey(state), e.Message);
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _socket?.Dispose();

    // sd_notify accepts an absolute path or an abstract name written with a leading '@';
    // the kernel's abstract namespace is a leading NUL, which UnixDomainSocketEndPoint understands.
    // vsock addresses (systemd ≥ 254, VMs) are not needed on a hypervisor host, so they are reported, not guessed.
    internal static bool TryParseEndpoint(string value, out UnixDomainSocketEndPoint? endpoint)
    {
        endpoint = value[0] switch
        {
            '/' => new UnixDomainSocketEndPoint(value),
            '@' when value.Length > 1 => new UnixDomainSocketEndPoint("\0" + value[1..]),
            _ => null,
        };
        return endpoint is not null;
    }

    // A STATUS value ends at the first newline; anything after it would be read as another assignment.
    private static string OneLine(string status) => status.ReplaceLineEndings(" ");

    private static string FirstKey(string state)
    {
        var end = state.IndexOfAny(['=', '\n']);
        return end < 0 ? state : state[..end];
    }

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdNotifyFailed, Level = LogLevel.Warning,
        Message = "sd_notify {Key} to {NotifySocket} failed: {Reason}")]
    private static partial void LogNotifyFailed(ILogger logger, string? notifySocket, string key, string reason);

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdNotifyUnsupportedSocket, Level = LogLevel.Warning,
        Message = "NOTIFY_SOCKET {NotifySocket} is neither a path nor an abstract '@' name; systemd notifications are off")]
    private static partial void LogUnsupportedSocket(ILogger logger, string notifySocket);
}
