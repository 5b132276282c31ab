using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace LispMobility.IntegrationTests.Lab;

/// <summary>Sockets that live in a lab namespace: made on a thread that entered it with setns(2), usable from any thread after.</summary>
public static partial class NamespaceSocket
{
    private const int CloneNewnet = 0x40000000;

    /// <summary>An unbound UDP socket in the namespace <paramref name="ns"/>.</summary>
    public static Socket Udp(string ns) => Create(ns, SocketType.Dgram, ProtocolType.Udp);

    /// <summary>An unconnected TCP socket in the namespace <paramref name="ns"/>.</summary>
    public static Socket Tcp(string ns) => Create(ns, SocketType.Stream, ProtocolType.Tcp);

    private static Socket Create(string ns, SocketType type, ProtocolType protocol)
    {
        Socket? socket = null;
        Exception? failure = null;
        // A fresh thread: setns changes the calling thread only, and this one ends right after.
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{ns}");
                if (setns((int)handle.DangerousGetHandle(), CloneNewnet) != 0)
                    throw new InvalidOperationException($"setns into {ns} failed: errno {Marshal.GetLastPInvokeError()}");
                socket = new Socket(AddressFamily.InterNetwork, type, protocol);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or SocketException or UnauthorizedAccessException)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"no socket in namespace {ns}", failure);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
