using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>The AF_PACKET socket calls the veth device's ring reader and frame writer share (packet(7)).</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class AfPacket
{
    public const int SolPacket = 263;
    public const int PacketRxRing = 5, PacketStatistics = 6, PacketVersion = 10, PacketVnetHdr = 15, PacketFanout = 18,
        PacketQdiscBypass = 20, PacketIgnoreOutgoing = 23;

    /// <summary>ETH_P_ALL: every frame, whatever its type.</summary>
    public const ushort AllProtocols = 0x0003;

    private const int Family = 17, SockRaw = 3, SockNonblock = 0x800, SockCloexec = 0x80000;

    /// <summary>A non-blocking raw socket, bound to no protocol yet: nothing is queued to it until <see cref="Bind"/>.</summary>
    public static int Open()
    {
        var fd = socket(Family, SockRaw | SockNonblock | SockCloexec, 0);
        if (fd < 0) throw new IOException($"AF_PACKET socket: errno {Marshal.GetLastPInvokeError()}");
        return fd;
    }

    /// <summary>Sets an integer SOL_PACKET option; throws naming it.</summary>
    public static void SetOption(int fd, int option, int value, string what)
    {
        if (setsockopt(fd, SolPacket, option, &value, sizeof(int)) < 0) throw new IOException($"{what}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Binds to interface <paramref name="index"/>, receiving frames of <paramref name="protocol"/> (0: none, a socket that only sends).</summary>
    public static void Bind(int fd, int index, ushort protocol, string name)
    {
        var address = stackalloc byte[20]; // struct sockaddr_ll
        new Span<byte>(address, 20).Clear();
        *(ushort*)address = Family;
        *(ushort*)(address + 2) = BinaryPrimitives.ReverseEndianness(protocol);
        *(int*)(address + 4) = index;
        if (bind(fd, address, 20) < 0) throw new IOException($"bind to {name}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Moves the offsets of a virtio-net header by <paramref name="delta"/> bytes: on a packet socket they count from the
    /// frame's start (the Ethernet header), where the data plane counts them from the IP header, as a TUN does.
    /// </summary>
    public static void RebaseVnetHeader(Span<byte> header, int delta)
    {
        // hdr_len is 0 but for a super-packet; csum_start means something only with VIRTIO_NET_HDR_F_NEEDS_CSUM.
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        if (headerLength != 0) BinaryPrimitives.WriteUInt16LittleEndian(header[2..], (ushort)(headerLength + delta));
        if ((header[0] & 1) != 0) BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(header[6..]) + delta));
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int option, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int option, void* value, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, void* address, int length);

    [LibraryImport("libc")]
    public static partial int close(int fd);
}
