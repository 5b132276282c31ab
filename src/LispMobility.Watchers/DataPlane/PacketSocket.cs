using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Watchers.DataPlane;

/// <summary>
/// A Linux AF_PACKET raw socket bound to one interface (packet(7)). P/Invoke rather than <c>System.Net.Sockets</c>
/// because we need <c>sockaddr_ll</c> (interface binding, packet type of each frame, the interface's MAC) which .NET
/// does not expose. The socket belongs to the network namespace of the thread that opened it.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class PacketSocket : IDisposable
{
    private const int AfPacket = 17, SockRaw = 3, EthPAll = 0x0003;
    private const int SolSocket = 1, SoRcvBuf = 8, SoRcvTimeo = 20, SoAttachFilter = 26;
    private const int SolPacket = 263, PacketAddMembership = 1, PacketMrPromisc = 1, PacketMrAllMulti = 2;
    private const int SockaddrLlLength = 20;
    private const int EAgain = 11, EIntr = 4;
    /// <summary>sll_pkttype of a frame we sent ourselves.</summary>
    internal const byte PacketOutgoing = 4;

    private int _fd;

    private PacketSocket(int fd, string name, int index, PhysicalAddress mac)
    {
        _fd = fd;
        InterfaceName = name;
        InterfaceIndex = index;
        Mac = mac;
    }

    /// <summary>The interface bound to.</summary>
    public string InterfaceName { get; }

    /// <summary>Its ifindex in the namespace the socket was opened in.</summary>
    public int InterfaceIndex { get; }

    /// <summary>Its hardware address, as the kernel reports it for the bound socket.</summary>
    public PhysicalAddress Mac { get; }

    /// <summary>Opens and binds the socket; all-multicast always (ND goes to multicast groups), promiscuous on request.</summary>
    public static PacketSocket Open(string interfaceName, bool promiscuous, TimeSpan receiveTimeout, int receiveBufferBytes)
    {
        var index = (int)IfNameToIndex(interfaceName);
        if (index == 0) throw new InvalidOperationException($"interface '{interfaceName}' does not exist: {LastError()}");
        var fd = Socket(AfPacket, SockRaw, BinaryPrimitives.ReverseEndianness((ushort)EthPAll));
        if (fd < 0) throw new InvalidOperationException($"AF_PACKET socket for '{interfaceName}' could not be opened (needs CAP_NET_RAW): {LastError()}");
        try
        {
            Span<byte> address = stackalloc byte[SockaddrLlLength];
            address.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(address, AfPacket);
            BinaryPrimitives.WriteUInt16BigEndian(address[2..], EthPAll);
            BinaryPrimitives.WriteInt32LittleEndian(address[4..], index);
            if (Bind(fd, address, SockaddrLlLength) != 0) throw new InvalidOperationException($"bind to '{interfaceName}' failed: {LastError()}");
            DropOutgoingInKernel(fd, interfaceName);

            Span<byte> membership = stackalloc byte[16];
            membership.Clear();
            BinaryPrimitives.WriteInt32LittleEndian(membership, index);
            BinaryPrimitives.WriteUInt16LittleEndian(membership[4..], promiscuous ? (ushort)PacketMrPromisc : (ushort)PacketMrAllMulti);
            if (SetSockOpt(fd, SolPacket, PacketAddMembership, membership, membership.Length) != 0)
                throw new InvalidOperationException($"PACKET_ADD_MEMBERSHIP on '{interfaceName}' failed: {LastError()}");

            Span<byte> timeout = stackalloc byte[16];
            BinaryPrimitives.WriteInt64LittleEndian(timeout, (long)receiveTimeout.TotalSeconds);
            BinaryPrimitives.WriteInt64LittleEndian(timeout[8..], receiveTimeout.Microseconds + receiveTimeout.Milliseconds * 1000L);
            SetSockOpt(fd, SolSocket, SoRcvTimeo, timeout, timeout.Length);
            Span<byte> size = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(size, receiveBufferBytes);
            SetSockOpt(fd, SolSocket, SoRcvBuf, size, size.Length);

            return new PacketSocket(fd, interfaceName, index, MacOf(fd, interfaceName));
        }
        catch
        {
            Close(fd);
            throw;
        }
    }

    // The sniffer learns from what the VMs send, and on a data-plane site every packet delivered to a VM leaves through this
    // port, which cost a recvfrom each (9-14 % of both cores in the forwarding lab, docs/benchmarks.md): from the start the
    // kernel drops those frames, before they are copied to the socket.
    private static void DropOutgoingInKernel(int fd, string interfaceName)
    {
        if (!TrySetFilter(fd, SenderFilter.Build([], SenderFilter.BaseInstructions, out _, out _), out var error))
            throw new InvalidOperationException($"SO_ATTACH_FILTER on '{interfaceName}' failed: {error}");
    }

    /// <summary>
    /// Replaces the socket's filter with <paramref name="program"/> (<see cref="SenderFilter"/>); false with the kernel's
    /// reason when it refused it (the filter before stays).
    /// </summary>
    public bool TrySetFilter(ulong[] program, out string? error) => TrySetFilter(Volatile.Read(ref _fd), program, out error);

    private static unsafe bool TrySetFilter(int fd, ulong[] program, out string? error)
    {
        ArgumentNullException.ThrowIfNull(program);
        fixed (ulong* instructions = program)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            Span<byte> fprog = stackalloc byte[16];
            fprog.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(fprog, (ushort)program.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(fprog[8..], (ulong)instructions);
            if (SetSockOpt(fd, SolSocket, SoAttachFilter, fprog, fprog.Length) == 0)
            {
                error = null;
                return true;
            }
        }

        error = LastError();
        return false;
    }

    /// <summary>Receives one frame; -1 when the receive timeout passed with nothing. <paramref name="packetType"/> is sll_pkttype.</summary>
    /// <summary>
    /// The interface's MAC now. A Linux bridge takes the lowest MAC of its ports, so its MAC changes as VMs' ports come and go:
    /// a frame sent with the MAC read at open draws its answer to an address the bridge no longer delivers locally.
    /// </summary>
    public PhysicalAddress CurrentMac() => MacOf(Volatile.Read(ref _fd), InterfaceName);

    // getsockname on an AF_PACKET socket reads the bound device's address at the time of the call.
    private static PhysicalAddress MacOf(int fd, string interfaceName)
    {
        Span<byte> bound = stackalloc byte[SockaddrLlLength];
        var length = SockaddrLlLength;
        if (GetSockName(fd, bound, ref length) != 0) throw new InvalidOperationException($"getsockname on '{interfaceName}' failed: {LastError()}");
        return new PhysicalAddress(bound.Slice(12, Math.Min((int)bound[11], 8)).ToArray());
    }

    public int Receive(Span<byte> buffer, out byte packetType)
    {
        Span<byte> from = stackalloc byte[SockaddrLlLength];
        while (true)
        {
            var length = SockaddrLlLength;
            var n = RecvFrom(Volatile.Read(ref _fd), buffer, buffer.Length, 0, from, ref length);
            if (n >= 0) { packetType = from[10]; return (int)n; }
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EIntr) continue;
            packetType = 0;
            if (errno == EAgain) return -1;
            throw new InvalidOperationException($"receive on '{InterfaceName}' failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Sends one complete Ethernet frame out of the interface.</summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        if (SendTo(Volatile.Read(ref _fd), frame, frame.Length, 0, IntPtr.Zero, 0) < 0)
            throw new InvalidOperationException($"send on '{InterfaceName}' failed: {LastError()}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Close(fd);
    }

    /// <summary>Runs <paramref name="action"/> on a fresh thread that has joined the named network namespace (ip netns).</summary>
    public static T InNamespace<T>(string netns, Func<T> action)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle(Path.Combine("/var/run/netns", netns));
                if (SetNs((int)handle.DangerousGetHandle(), 0x40000000) != 0)
                    throw new InvalidOperationException($"setns into '{netns}' failed: {LastError()}");
                result = action();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = $"netns {netns}" };
        thread.Start();
        thread.Join();
        if (failure is not null) throw new InvalidOperationException($"in network namespace '{netns}': {failure.Message}", failure);
        return result!;
    }

    private static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, ReadOnlySpan<byte> address, int length);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ReadOnlySpan<byte> value, int length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    private static partial int GetSockName(int fd, Span<byte> address, ref int length);

    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    private static partial nint RecvFrom(int fd, Span<byte> buffer, nint length, int flags, Span<byte> from, ref int fromLength);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint SendTo(int fd, ReadOnlySpan<byte> buffer, nint length, int flags, IntPtr to, int toLength);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint IfNameToIndex(string name);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
