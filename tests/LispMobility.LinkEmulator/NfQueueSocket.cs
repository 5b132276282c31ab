using System.Runtime.InteropServices;

namespace LispMobility.LinkEmulator;

/// <summary>
/// A NETLINK_NETFILTER socket. Like every netlink socket it belongs to the network namespace of the process that opens
/// it, so the emulator serves the queue of the namespace it was started in (<c>ip netns exec NS dotnet ...</c>).
/// </summary>
internal sealed partial class NfQueueSocket : IDisposable
{
    public const int Eagain = 11, Eintr = 4, Enobufs = 105;
    private const int AfNetlink = 16, SockRaw = 3, SockCloexec = 0x80000, NetlinkNetfilter = 12;
    private const int SolSocket = 1, SoRcvbuf = 8, SoRcvbufforce = 33, SoRcvtimeo = 20;

    private readonly int _fd;

    /// <summary>Opens and binds the socket; <paramref name="receiveTimeout"/> lets the receive loop notice a stop.</summary>
    public unsafe NfQueueSocket(int receiveBuffer, TimeSpan receiveTimeout)
    {
        _fd = socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
        if (_fd < 0) throw new IOException($"socket(AF_NETLINK, NETLINK_NETFILTER): {Describe(Marshal.GetLastPInvokeError())}");
        try
        {
            Span<byte> address = stackalloc byte[12]; // sockaddr_nl: family, pad, pid 0 (the kernel assigns one), groups 0
            address.Clear();
            MemoryMarshal.Write(address, (ushort)AfNetlink);
            fixed (byte* a = address)
                if (bind(_fd, a, address.Length) < 0) throw new IOException($"bind(AF_NETLINK): {Describe(Marshal.GetLastPInvokeError())}");
            // A burst must not overflow the socket while the release thread holds the CPU: FORCE passes rmem_max (root),
            // the plain option is the fallback the kernel caps.
            if (setsockopt(_fd, SolSocket, SoRcvbufforce, &receiveBuffer, sizeof(int)) < 0
                && setsockopt(_fd, SolSocket, SoRcvbuf, &receiveBuffer, sizeof(int)) < 0)
                throw new IOException($"setsockopt(SO_RCVBUF): {Describe(Marshal.GetLastPInvokeError())}");
            Span<long> timeval = [(long)receiveTimeout.TotalSeconds, receiveTimeout.Milliseconds * 1000L];
            fixed (long* t = timeval)
                if (setsockopt(_fd, SolSocket, SoRcvtimeo, t, sizeof(long) * 2) < 0)
                    throw new IOException($"setsockopt(SO_RCVTIMEO): {Describe(Marshal.GetLastPInvokeError())}");
        }
        catch
        {
            close(_fd);
            throw;
        }
    }

    /// <summary>Sends one message to the kernel; 0, or the errno.</summary>
    public unsafe int Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* m = message)
            return send(_fd, m, message.Length, 0) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>Receives one datagram: its length, or -1 with <paramref name="errno"/> set (EAGAIN after the timeout).</summary>
    public unsafe int Receive(Span<byte> buffer, out int errno)
    {
        nint received;
        fixed (byte* b = buffer) received = recv(_fd, b, buffer.Length, 0);
        errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)received;
    }

    /// <summary>strerror and the number.</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    public void Dispose() => close(_fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int bind(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
