using System.Runtime.InteropServices;

namespace LispMobility.Platform.Netlink;

/// <summary>The kernel refused a netlink request: errno and, when the kernel sent one, its extended-ack message.</summary>
public sealed class NetlinkException(int errno, string? kernelMessage, string request)
    : Exception($"{request}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}){(kernelMessage is null ? "" : $": {kernelMessage}")}")
{
    public int Errno { get; } = errno;

    /// <summary>True for errors where trying again may work: busy, out of memory or buffers, no answer in time.</summary>
    public bool Transient => Errno is 11 /* EAGAIN */ or 12 /* ENOMEM */ or 16 /* EBUSY */ or 105 /* ENOBUFS */;
}

/// <summary>
/// A NETLINK_ROUTE socket. It belongs to the network namespace of the thread that opens it, which is how the
/// driver works inside a namespace: open it on a thread that entered the namespace with setns(2).
/// </summary>
public sealed partial class NetlinkSocket : IDisposable
{
    private const int AfNetlink = 16, SockRaw = 3, SockCloexec = 0x80000, NetlinkRoute = 0;
    private const int SolSocket = 1, SoRcvtimeo = 20, SolNetlink = 270, NetlinkCapAck = 10, NetlinkExtAck = 11;
    private const int Eagain = 11, Eintr = 4;
    public const int Enodev = 19;

    private readonly int _fd;
    private uint _sequence;

    public unsafe NetlinkSocket(TimeSpan timeout)
    {
        _fd = socket(AfNetlink, SockRaw | SockCloexec, NetlinkRoute);
        if (_fd < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), null, "socket(AF_NETLINK, NETLINK_ROUTE)");
        try
        {
            Span<byte> address = stackalloc byte[12]; // sockaddr_nl: family, pad, pid 0 (kernel assigns), groups 0
            address.Clear();
            MemoryMarshal.Write(address, (ushort)AfNetlink);
            fixed (byte* a = address)
                if (bind(_fd, a, address.Length) < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), null, "bind(AF_NETLINK)");
            Span<long> timeval = [(long)timeout.TotalSeconds, timeout.Milliseconds * 1000L];
            fixed (long* t = timeval)
                if (setsockopt(_fd, SolSocket, SoRcvtimeo, t, sizeof(long) * 2) < 0)
                    throw new NetlinkException(Marshal.GetLastPInvokeError(), null, "setsockopt(SO_RCVTIMEO)");
            // Best effort: older kernels lack these; errors then come without the kernel's explanation.
            int one = 1;
            setsockopt(_fd, SolNetlink, NetlinkExtAck, &one, sizeof(int));
            setsockopt(_fd, SolNetlink, NetlinkCapAck, &one, sizeof(int));
        }
        catch
        {
            close(_fd);
            throw;
        }
    }

    /// <summary>Sends a request and collects the kernel's answers until its ACK, or NLMSG_DONE for a dump.</summary>
    /// <returns>Each answer as (message type, payload after the netlink header).</returns>
    public unsafe List<(ushort Type, byte[] Payload)> Exchange(NetlinkMessage message, string what)
    {
        var sequence = ++_sequence;
        var request = message.ToArray(sequence);
        var dump = (MemoryMarshal.Read<ushort>(request.AsSpan(6)) & Rtnl.FDump) == Rtnl.FDump;
        fixed (byte* r = request)
            if (send(_fd, r, request.Length, 0) < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), null, what);

        var answers = new List<(ushort, byte[])>();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            ReadOnlySpan<byte> data = Receive(buffer, what);
            while (NextMessage(ref data, out var type, out var flags, out var seq, out var payload))
            {
                if (seq != sequence) continue; // a late answer to an earlier request
                if (type == Rtnl.NlmsgDone) return answers;
                if (type == Rtnl.NlmsgError)
                {
                    var error = payload.Length >= 4 ? -MemoryMarshal.Read<int>(payload) : 0;
                    if (error != 0) throw new NetlinkException(error, KernelMessage(payload, flags), what);
                    if (!dump) return answers;
                    continue;
                }
                answers.Add((type, payload.ToArray()));
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="requests"/> (each with NLM_F_ACK) in one datagram and collects one acknowledgement per request:
    /// the kernel handles each on its own, so one refused does not stop the rest. Keep a batch small enough for the
    /// acknowledgements to fit the socket's receive buffer (a few hundred).
    /// </summary>
    /// <returns>Per request, in order: null when the kernel applied it, else its error.</returns>
    public unsafe NetlinkException?[] ExchangeBatch(IReadOnlyList<(NetlinkMessage Message, string What)> requests)
    {
        var results = new NetlinkException?[requests.Count];
        if (requests.Count == 0) return results;
        var first = _sequence + 1;
        var datagram = new List<byte>();
        foreach (var (message, _) in requests)
        {
            var bytes = message.ToArray(++_sequence);
            datagram.AddRange(bytes);
            for (var pad = NetlinkMessage.Align(bytes.Length) - bytes.Length; pad > 0; pad--) datagram.Add(0);
        }

        var request = datagram.ToArray();
        fixed (byte* r = request)
            if (send(_fd, r, request.Length, 0) < 0) throw new NetlinkException(Marshal.GetLastPInvokeError(), null, $"{requests.Count} route requests");

        var pending = requests.Count;
        var buffer = new byte[64 * 1024];
        while (pending > 0)
        {
            ReadOnlySpan<byte> data = Receive(buffer, $"{pending} of {requests.Count} route requests");
            while (NextMessage(ref data, out var type, out var flags, out var seq, out var payload))
            {
                var index = (long)seq - first;
                if (type != Rtnl.NlmsgError || index < 0 || index >= requests.Count) continue;
                var error = payload.Length >= 4 ? -MemoryMarshal.Read<int>(payload) : 0;
                if (error != 0) results[index] = new NetlinkException(error, KernelMessage(payload, flags), requests[(int)index].What);
                pending--;
            }
        }

        return results;
    }

    /// <summary>One datagram from the kernel (retried on EINTR); a timeout or error is a <see cref="NetlinkException"/>.</summary>
    private unsafe Span<byte> Receive(byte[] buffer, string what)
    {
        while (true)
        {
            nint received;
            fixed (byte* b = buffer) received = recv(_fd, b, buffer.Length, 0);
            if (received >= 0) return buffer.AsSpan(0, (int)received);
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eintr) continue;
            throw new NetlinkException(errno, errno == Eagain ? "no answer from the kernel in time" : null, what);
        }
    }

    /// <summary>The next netlink message of a datagram, <paramref name="data"/> advanced past it; false at the end or on a bad length.</summary>
    private static bool NextMessage(ref ReadOnlySpan<byte> data, out ushort type, out ushort flags, out uint seq, out ReadOnlySpan<byte> payload)
    {
        type = 0; flags = 0; seq = 0; payload = default;
        if (data.Length < Rtnl.HeaderLength) return false;
        var length = (int)MemoryMarshal.Read<uint>(data);
        if (length < Rtnl.HeaderLength || length > data.Length) return false;
        type = MemoryMarshal.Read<ushort>(data[4..]);
        flags = MemoryMarshal.Read<ushort>(data[6..]);
        seq = MemoryMarshal.Read<uint>(data[8..]);
        payload = data[Rtnl.HeaderLength..length];
        data = data[Math.Min(NetlinkMessage.Align(length), data.Length)..];
        return true;
    }

    private static string? KernelMessage(ReadOnlySpan<byte> payload, ushort flags)
    {
        if ((flags & Rtnl.FAckTlvs) == 0) return null;
        // struct nlmsgerr: int error, then the request's header (only, when capped) or the whole request.
        var echoed = (flags & Rtnl.FCapped) != 0 ? Rtnl.HeaderLength
            : payload.Length >= 8 ? (int)MemoryMarshal.Read<uint>(payload[4..]) : Rtnl.HeaderLength;
        var start = 4 + NetlinkMessage.Align(echoed);
        return start < payload.Length ? NetlinkAttributes.String(NetlinkAttributes.Parse(payload[start..]), Rtnl.NlmsgerrAttrMsg) : null;
    }

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
