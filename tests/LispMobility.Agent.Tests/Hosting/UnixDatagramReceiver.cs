using System.Net.Sockets;
using System.Text;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>A real Unix datagram socket bound at a temporary path (or an abstract name), standing in for systemd or journald.</summary>
internal sealed class UnixDatagramReceiver : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _directory;

    private UnixDatagramReceiver(string address, string? directory)
    {
        Address = address;
        _directory = directory;
        _socket.Bind(new UnixDomainSocketEndPoint(address.StartsWith('@') ? "\0" + address[1..] : address));
    }

    /// <summary>The address as systemd would write it in $NOTIFY_SOCKET.</summary>
    public string Address { get; }

    public static UnixDatagramReceiver AtTempPath()
    {
        var dir = Directory.CreateTempSubdirectory("lm-sock-").FullName;
        return new UnixDatagramReceiver(Path.Combine(dir, "notify"), dir);
    }

    public static UnixDatagramReceiver Abstract() => new($"@lispmobility-test-{Guid.NewGuid():N}", null);

    /// <summary>The next datagram, or null when none arrives within <paramref name="timeout"/>.</summary>
    public byte[]? Receive(TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead)) return null;
        var buffer = new byte[1 << 20];
        var n = _socket.Receive(buffer);
        return buffer[..n];
    }

    public string? ReceiveText(TimeSpan timeout) => Receive(timeout) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    public void Dispose()
    {
        _socket.Dispose();
        if (_directory is not null) Directory.Delete(_directory, recursive: true);
    }
}
