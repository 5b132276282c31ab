using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Reads what arrives at a <see cref="VethDevice"/>'s far end through a TPACKET_V3 ring: the kernel copies each packet into
/// a block of memory shared with this process and hands over whole blocks, so a flood costs no syscall per packet (a
/// <c>poll</c> only when the ring is empty). A block is handed over when full or, under light traffic, 1 ms after its first
/// packet (the ring's block timeout): the price of the batching is up to 1 ms of added latency at low rates. With several
/// queues, each reader's socket joins one fanout group that spreads the packets by flow hash.
/// Each packet is handed over as a TUN reader would: the headroom, then (with offloads) its virtio-net header made relative
/// to the IP header, then the IP packet; the Ethernet header is dropped, frames that carry no IP packet are skipped (and
/// counted with the packets the ring had no room for).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe partial class PacketRingReader : IPacketReader
{
    private const int TpacketV3 = 2, FanoutHash = 0;
    private const int BlockSize = 1 << 20, Blocks = 8, FrameSize = 2048, BlockTimeoutMs = 1;
    private const uint StatusUser = 1;
    private const int EthernetLength = 14, VnetLength = 10;
    // Where a packet's header and frame start relative to its tpacket3_hdr: TPACKET_ALIGN(sizeof tpacket3_hdr + sockaddr_ll)
    // and the MAC header's 16 reserved bytes; the headroom the caller asks for must fit before the IP header.
    private const int FrameHeader = 96;
    private readonly int _fd;
    private readonly WakeableWait _wait;
    private readonly byte* _ring;
    private readonly int _capacity;
    private readonly int _headroom;
    private readonly int _vnet;
    private readonly nint[] _starts;
    private readonly int[] _lengths;
    private int _count;
    private int _block;
    private bool _open;
    private uint _left;
    private byte* _next;
    private long _dropped;

    /// <summary>
    /// Opens a ring on <paramref name="device"/>'s far end (in the calling thread's namespace) handing over at most
    /// <paramref name="capacity"/> packets per <see cref="Read"/>, each after <paramref name="headroom"/> free bytes.
    /// </summary>
    public PacketRingReader(VethDevice device, int capacity, int headroom)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        _vnet = device.HasVnetHeader ? VnetLength : 0;
        // A packet's own frame holds FrameHeader bytes (the ring's header, then free) before its virtio-net header and IP header:
        // that is all the headroom there is in place, and enough for the 56 bytes of an IPv6 encapsulation.
        if (headroom > FrameHeader) throw new ArgumentOutOfRangeException(nameof(headroom), headroom, $"at most {FrameHeader} bytes fit before a packet in the ring");
        _capacity = capacity;
        _headroom = headroom;
        _starts = new nint[capacity];
        _lengths = new int[capacity];
        _fd = AfPacket.Open(); // nothing arrives before the ring is bound
        try
        {
            AfPacket.SetOption(_fd, AfPacket.PacketVersion, TpacketV3, "PACKET_VERSION TPACKET_V3");
            if (_vnet != 0) AfPacket.SetOption(_fd, AfPacket.PacketVnetHdr, 1, "PACKET_VNET_HDR");
            // The ETR's frames leave through the same far end: never copied into the ITR's ring.
            AfPacket.SetOption(_fd, AfPacket.PacketIgnoreOutgoing, 1, "PACKET_IGNORE_OUTGOING");
            var request = stackalloc uint[7];
            request[0] = BlockSize;
            request[1] = Blocks;
            request[2] = FrameSize;
            request[3] = BlockSize / FrameSize * Blocks;
            request[4] = BlockTimeoutMs;
            request[5] = 0;
            request[6] = 0;
            if (AfPacket.setsockopt(_fd, AfPacket.SolPacket, AfPacket.PacketRxRing, request, 7 * sizeof(uint)) < 0) throw new IOException($"PACKET_RX_RING on {device.PeerName}: errno {Marshal.GetLastPInvokeError()}");
            _ring = (byte*)mmap(null, (nuint)BlockSize * Blocks, 3 /* PROT_READ | PROT_WRITE */, 1 /* MAP_SHARED */, _fd, 0);
            if (_ring == (byte*)-1) throw new IOException($"mmap of the packet ring: errno {Marshal.GetLastPInvokeError()}");
            AfPacket.Bind(_fd, device.PeerIndex, AfPacket.AllProtocols, device.PeerName);
            if (device.Queues > 1) AfPacket.SetOption(_fd, AfPacket.PacketFanout, (device.PeerIndex & 0xFFFF) | (FanoutHash << 16), "PACKET_FANOUT");
            _wait = new WakeableWait();
        }
        catch
        {
            if (_ring != null && _ring != (byte*)-1) munmap(_ring, (nuint)BlockSize * Blocks);
            AfPacket.close(_fd);
            throw;
        }
    }

    /// <inheritdoc />
    public bool Batched => true;

    /// <inheritdoc />
    public int RingErrno => 0;

    /// <summary>Packets the ring had no room for, and frames skipped: cut short (longer than a block) or with no IP packet in them.</summary>
    public long TakeDropped()
    {
        var dropped = _dropped;
        _dropped = 0;
        return dropped;
    }

    private BlockHeader* Block(int index) => (BlockHeader*)(_ring + (nint)index * BlockSize);

    private bool Ready => _open || (Volatile.Read(ref Block(_block)->Status) & StatusUser) != 0;

    /// <inheritdoc />
    public bool Wait(int timeoutMs)
    {
        return Ready || _wait.Wait(_fd, timeoutMs) || Ready;
    }

    /// <inheritdoc />
    public void Wake() => _wait.Wake();

    /// <inheritdoc />
    public int Read()
    {
        _count = 0;
        if (!_open)
        {
            var block = Block(_block);
            if ((Volatile.Read(ref block->Status) & StatusUser) == 0) return 0;
            _open = true;
            _left = block->Packets;
            _next = (byte*)block + block->FirstPacket;
        }

        while (_count < _capacity && _left > 0)
        {
            var header = (PacketHeader*)_next;
            _next += header->NextOffset;
            _left--;
            var mac = (byte*)header + header->Mac;
            var net = (byte*)header + header->Net;
            var type = BinaryPrimitives.ReverseEndianness(*(ushort*)(mac + 12));
            if (header->SnapLength < header->Length || net - mac != EthernetLength || type is not (0x0800 or 0x86DD))
            {
                _dropped++;
                continue;
            }

            var ipLength = (int)header->SnapLength - EthernetLength;
            if (_vnet != 0)
            {
                // The kernel put the header before the Ethernet header, its offsets counted from there; the ITR wants it next to
                // the IP header and counted from it, as a TUN writes it (the two overlap: copied before the rebase).
                var moved = new Span<byte>(net - VnetLength, VnetLength);
                new Span<byte>(mac - VnetLength, VnetLength).CopyTo(moved);
                AfPacket.RebaseVnetHeader(moved, -EthernetLength);
            }

            _starts[_count] = (nint)(net - _vnet - _headroom - _ring);
            _lengths[_count++] = _vnet + ipLength;
        }

        return _count;
    }

    /// <inheritdoc />
    public Span<byte> Slot(int index) => new(_ring + _starts[index], _headroom + _lengths[index]);

    /// <inheritdoc />
    public int Length(int index) => _lengths[index];

    /// <inheritdoc />
    public void Rearm()
    {
        _count = 0;
        if (!_open || _left > 0) return;
        Volatile.Write(ref Block(_block)->Status, 0); // TP_STATUS_KERNEL: the kernel may fill it again
        _open = false;
        _block = (_block + 1) % Blocks;
        // Packets the ring had no room for: read (and reset) once per block handed back, not per packet.
        var statistics = stackalloc uint[3];
        var length = 3 * sizeof(uint);
        if (AfPacket.getsockopt(_fd, AfPacket.SolPacket, AfPacket.PacketStatistics, statistics, &length) == 0) _dropped += statistics[1];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _wait.Dispose();
        munmap(_ring, (nuint)BlockSize * Blocks);
        AfPacket.close(_fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct BlockHeader
    {
        public uint Version;
        public uint OffsetToPrivate;
        public uint Status;
        public uint Packets;
        public uint FirstPacket;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PacketHeader
    {
        public uint NextOffset;
        public uint Seconds;
        public uint Nanoseconds;
        public uint SnapLength;
        public uint Length;
        public uint Status;
        public ushort Mac;
        public ushort Net;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc")]
    private static partial int munmap(void* address, nuint length);
}
