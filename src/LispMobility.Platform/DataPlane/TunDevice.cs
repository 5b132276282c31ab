using System.Net;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using LispMobility.Platform.Netlink;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// A Linux TUN device (IFF_TUN, no packet-info header): IP packets routed to it are read here, and packets written here
/// enter the host's stack as if received on it. Non-blocking (a <see cref="TunReader"/> waits on it and reads every queued
/// packet per wake-up). Created (or attached to) in the network namespace of the calling thread.
/// With offloads (IFF_VNET_HDR), every packet read or written starts with a 10-byte virtio-net header, and the kernel may
/// hand over TCP super-packets of up to 64 KB with their checksums left partial, for the reader to cut and complete.
/// With several queues (IFF_MULTI_QUEUE) the kernel spreads the packets it sends to the device over the queues by flow,
/// one reader each; writes go through the first.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class TunDevice : IEidDevice
{
    private const int ONonblock = 0x800, ORdwr = 2, OCloexec = 0x80000;
    private const uint TunSetIff = 0x400454CA;
    private const uint TunSetOffload = 0x400454D0;
    private const short IffTun = 0x0001, IffMultiQueue = 0x0100, IffNoPi = 0x1000, IffVnetHdr = 0x4000;
    // TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN: what the reader completes and cuts itself (no UDP segmentation).
    private const nuint Offloads = 0x1 | 0x2 | 0x4 | 0x8;
    // TUN_F_USO4 | TUN_F_USO6: UDP segmentation, offered only to learn whether the kernel knows it (Linux 6.2).
    private const nuint UdpOffloads = 0x20 | 0x40;
    /// <summary>Bytes of the virtio-net header before each packet where the device takes one (the TUN's default size).</summary>
    internal const int VnetHeaderLength = 10;
    private const int Eagain = 11, Eintr = 4;
    private readonly int[] _fds;
    private int _fd;

    /// <summary>
    /// Creates or attaches to the TUN device <paramref name="name"/>, sets its MTU and brings it up; with
    /// <paramref name="offloads"/>, packets carry a virtio-net header and the kernel is offered checksum and TCP segmentation
    /// offload (<see cref="OffloadErrno"/> says whether it took them); with <paramref name="queues"/> above 1, a
    /// multi-queue device with that many descriptors.
    /// </summary>
    public TunDevice(string name, int mtu, bool offloads = false, int queues = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(queues, 1);
        if (Encoding.ASCII.GetByteCount(name) > 15) throw new ArgumentException($"interface name '{name}' is longer than 15 bytes", nameof(name));
        var flags = (short)(IffTun | IffNoPi | (offloads ? IffVnetHdr : 0) | (queues > 1 ? IffMultiQueue : 0));
        _fds = new int[queues];
        Array.Fill(_fds, -1);
        try
        {
            // Each queue is one descriptor attached to the same device by name, with the same flags.
            for (var q = 0; q < queues; q++) _fds[q] = Attach(name, flags);
            _fd = _fds[0];
            HasVnetHeader = offloads;
            if (offloads && ioctl(_fd, TunSetOffload, Offloads) < 0) OffloadErrno = Marshal.GetLastPInvokeError();
            if (offloads && OffloadErrno == 0 && ioctl(_fd, TunSetOffload, Offloads | UdpOffloads) == 0)
            {
                // This kernel knows UDP segmentation in the virtio-net header, so a UDP super-packet written to the device is
                // taken (before 6.2 it is refused, and its datagrams lost). Read ones are not wanted, the reader cuts TCP
                // only: the offer goes back to TCP.
                if (ioctl(_fd, TunSetOffload, Offloads) < 0) throw new IOException($"TUNSETOFFLOAD {name}: errno {Marshal.GetLastPInvokeError()} taking back UDP segmentation");
                TakesUdpSuperPackets = true;
            }

            Name = name;
            Index = InterfaceIndex.Of(name);
            // MTU and up in one RTM_NEWLINK; the MTU is what the ITR may carry after the encapsulation's 36/56 bytes.
            using var netlink = new NetlinkSocket(TimeSpan.FromSeconds(5));
            netlink.Exchange(new NetlinkMessage(Rtnl.NewLink, Rtnl.FRequest | Rtnl.FAck).Ifinfo(Index, Rtnl.IffUp, Rtnl.IffUp).Attribute(IflaMtu, (uint)mtu),
                $"set {name} mtu {mtu} up");
        }
        catch
        {
            foreach (var fd in _fds) if (fd >= 0) close(fd);
            throw;
        }
    }

    private static unsafe int Attach(string name, short flags)
    {
        var fd = open("/dev/net/tun", ORdwr | ONonblock | OCloexec);
        if (fd < 0) throw new IOException($"cannot open /dev/net/tun: errno {Marshal.GetLastPInvokeError()}");
        Span<byte> ifreq = stackalloc byte[40];
        ifreq.Clear();
        Encoding.ASCII.GetBytes(name, ifreq);
        MemoryMarshal.Write(ifreq[16..], flags);
        fixed (byte* r = ifreq)
        {
            if (ioctl(fd, TunSetIff, r) >= 0) return fd;
        }

        var errno = Marshal.GetLastPInvokeError();
        close(fd);
        throw new IOException($"TUNSETIFF {name}: errno {errno}");
    }

    private const ushort IflaMtu = 4;

    /// <summary>The interface name.</summary>
    public string Name { get; } = "";

    /// <summary>The interface index.</summary>
    public int Index { get; }

    /// <summary>Whether every packet read or written starts with a virtio-net header.</summary>
    public bool HasVnetHeader { get; }

    /// <summary>Why the kernel refused the offloads (the errno of TUNSETOFFLOAD), or 0: then no packet is a super-packet or has a partial checksum.</summary>
    public int OffloadErrno { get; }

    /// <summary>Whether UDP super-packets (VIRTIO_NET_HDR_GSO_UDP_L4) may be written to the device: Linux 6.2 and later.</summary>
    public bool TakesUdpSuperPackets { get; }

    /// <summary>The number of queues, each read by its own loop.</summary>
    public int Queues => _fds.Length;

    /// <summary>The open descriptor (O_NONBLOCK) of the first queue, for the batches of <see cref="TunWriter"/>.</summary>
    internal int Descriptor => _fd;

    /// <summary>The open descriptor (O_NONBLOCK) of queue <paramref name="queue"/>.</summary>
    internal int DescriptorOf(int queue) => _fds[queue];

    /// <inheritdoc />
    public void AddRoute(IPAddress prefix, int length, byte routeProtocol) => DeviceRoutes.Add(Index, Name, prefix, length, routeProtocol);

    /// <inheritdoc />
    public IPacketReader OpenReader(int queue, int capacity, int headroom, int maxPacket, bool batchedSyscalls) =>
        new TunReader(this, capacity, headroom, (HasVnetHeader ? VnetHeaderLength : 0) + maxPacket, batchedSyscalls, queue);

    /// <inheritdoc />
    public IPacketWriter OpenWriter(int capacity, int maxPacket, bool batchedSyscalls) => new TunWriter(this, capacity, maxPacket, batchedSyscalls);

    /// <summary>Reads one packet from <paramref name="queue"/> into <paramref name="buffer"/>; its length, or 0 when none is queued.</summary>
    public unsafe int Read(Span<byte> buffer, int queue = 0)
    {
        fixed (byte* b = buffer)
        {
            var n = read(_fds[queue], b, (nint)buffer.Length);
            if (n >= 0) return (int)n;
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Eagain or Eintr) return 0;
            throw new IOException($"read {Name}: errno {errno}");
        }
    }

    /// <summary>
    /// Writes one packet (without a virtio-net header: an empty one goes before it where the device takes one); false when
    /// the device's queue is full (the packet is lost, as on a congested link).
    /// </summary>
    public unsafe bool Write(ReadOnlySpan<byte> packet)
    {
        fixed (byte* p = packet)
        {
            if (!HasVnetHeader) return write(_fd, p, (nint)packet.Length) == packet.Length;
            var header = stackalloc byte[VnetHeaderLength];
            new Span<byte>(header, VnetHeaderLength).Clear();
            var vectors = stackalloc IoVector[2];
            vectors[0] = new IoVector { Base = header, Length = VnetHeaderLength };
            vectors[1] = new IoVector { Base = p, Length = (nuint)packet.Length };
            return writev(_fd, vectors, 2) == VnetHeaderLength + packet.Length;
        }
    }

    /// <summary>Writes one packet as it is, its virtio-net header (where the device takes one) included; false when the device refused it.</summary>
    internal unsafe bool WriteFramed(ReadOnlySpan<byte> packet)
    {
        fixed (byte* p = packet) return write(_fd, p, (nint)packet.Length) == packet.Length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _fd, -1) < 0) return;
        foreach (var fd in _fds) close(fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, uint request, byte* argument);

    [LibraryImport("libc", SetLastError = true, EntryPoint = "ioctl")]
    private static partial int ioctl(int fd, uint request, nuint argument);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint writev(int fd, IoVector* vectors, int count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
