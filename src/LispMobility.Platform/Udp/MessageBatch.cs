using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LispMobility.Platform;

/// <summary>
/// Datagrams moved by one Linux <c>recvmmsg</c>/<c>sendmmsg</c>: native mmsghdr, iovec and sockaddr arrays over one
/// native buffer of fixed-size slots. On loopback each UDP syscall costs more than the Map-Server's whole user-space
/// work on a Map-Register, so one call per batch instead of one per datagram is where the throughput is.
/// Not thread-safe: one batch belongs to one loop.
/// </summary>
internal sealed unsafe partial class MessageBatch : IDisposable
{
    /// <summary>sizeof(struct sockaddr_storage).</summary>
    public const int AddressSize = 128;
    private const int MsgTrunc = 0x20, MsgWaitForOne = 0x10000;
    private const int SolUdp = 17, UdpSegment = 103, UdpGro = 104;
    private const int EIO = 5, EINVAL = 22, EMSGSIZE = 90, ENOPROTOOPT = 92, EOPNOTSUPP = 95;

    // The kernel's UDP_MAX_SEGMENTS was 64 before Linux 6.6 (128 since); one GSO send also stays under the 64 KiB of one IP packet.
    private const int MaxSegments = 64, MaxSegmentedBytes = 60_000;

    // struct cmsghdr (size_t len, int level, int type) then the u16 segment size, padded to the 8-byte alignment.
    private static readonly int ControlSize = sizeof(nuint) + 2 * sizeof(int) + sizeof(nuint);
    private readonly int _slotSize;
    private byte* _payloads;
    private byte* _addresses;
    private MMsgHdr* _headers;
    private IoVec* _iov;
    private MMsgHdr* _segmented;
    private byte* _control;
    private int* _runs;
    private byte* _received;

    /// <summary>
    /// Allocates <paramref name="capacity"/> slots of <paramref name="slotSize"/> bytes (untouched pages stay uncommitted).
    /// With <paramref name="segment"/>, <see cref="Send"/> hands a run of datagrams of one size to one destination to the
    /// kernel as one UDP GSO send (UDP_SEGMENT): the stack is walked once per run instead of once per datagram.
    /// </summary>
    /// <remarks>
    /// With <paramref name="coalesced"/>, each received datagram gets room for its control messages: a socket with UDP_GRO
    /// then says per datagram that it holds a run of segments, and of what size (<see cref="SegmentSize"/>).
    /// </remarks>
    public MessageBatch(int capacity, int slotSize, bool segment = false, bool coalesced = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 1);
        Capacity = capacity;
        _slotSize = slotSize;
        _payloads = (byte*)NativeMemory.Alloc((nuint)capacity * (nuint)slotSize);
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)capacity * AddressSize);
        _headers = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MMsgHdr));
        _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(IoVec));
        if (coalesced) _received = (byte*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)ControlSize);
        if (!segment) return;
        Segmenting = true;
        _segmented = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MMsgHdr));
        _control = (byte*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)ControlSize);
        _runs = (int*)NativeMemory.AllocZeroed((nuint)capacity, sizeof(int));
    }

    /// <summary>True while sends go out as UDP GSO runs; false when not asked for, or after the kernel or device refused it.</summary>
    public bool Segmenting { get; private set; }

    /// <summary>The errno with which the kernel refused a segmented send (then sends go one datagram each), or 0.</summary>
    public int SegmentationRefused { get; private set; }

    /// <summary>Sends that carried more than one datagram as one UDP GSO run.</summary>
    public long SegmentedSends { get; private set; }

    /// <summary>Slots.</summary>
    public int Capacity { get; }

    /// <summary>Datagrams held: received by the last <see cref="Receive"/>, or queued by <see cref="TryAdd"/>.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Receives up to <see cref="Capacity"/> datagrams: blocks (within the socket's receive timeout) for the first, then takes
    /// what is already queued. Returns the count, or -1 with the errno.
    /// </summary>
    public int Receive(int fd, out int errno)
    {
        for (var i = 0; i < Capacity; i++)
        {
            Prepare(i, _slotSize, AddressSize);
            if (_received is null) continue;
            _headers[i].Header.Control = _received + (nint)i * ControlSize;
            _headers[i].Header.ControlLength = (nuint)ControlSize;
        }

        var n = recvmmsg(fd, _headers, (uint)Capacity, MsgWaitForOne, null);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        Count = Math.Max(0, n);
        return n;
    }

    /// <summary>The payload of received datagram <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Payload(int index) => new(_payloads + (nint)index * _slotSize, (int)_headers[index].Length);

    /// <summary>The sender of received datagram <paramref name="index"/> as the kernel's sockaddr bytes.</summary>
    public ReadOnlySpan<byte> Address(int index) => new(_addresses + (nint)index * AddressSize, (int)Math.Min(_headers[index].Header.NameLength, AddressSize));

    /// <summary>
    /// The size of the segments received datagram <paramref name="index"/> is a run of (UDP GRO: each a datagram the sender
    /// sent, the last possibly shorter), or 0 when it is one datagram or the batch was not made for coalesced receives.
    /// </summary>
    public int SegmentSize(int index)
    {
        if (_received is null) return 0;
        var header = _headers[index].Header;
        var control = (byte*)header.Control;
        var length = (int)header.ControlLength;
        var offset = 0;
        while (offset + sizeof(nuint) + 2 * sizeof(int) <= length)
        {
            var cmsgLength = (int)*(nuint*)(control + offset);
            if (cmsgLength < sizeof(nuint) + 2 * sizeof(int) || offset + cmsgLength > length) return 0;
            if (*(int*)(control + offset + sizeof(nuint)) == SolUdp && *(int*)(control + offset + sizeof(nuint) + sizeof(int)) == UdpGro
                && cmsgLength >= sizeof(nuint) + 3 * sizeof(int))
            {
                return *(int*)(control + offset + sizeof(nuint) + 2 * sizeof(int));
            }

            offset += (cmsgLength + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);
        }

        return 0;
    }

    /// <summary>True when datagram <paramref name="index"/> was longer than a slot and arrived cut.</summary>
    public bool Truncated(int index) => (_headers[index].Header.Flags & MsgTrunc) != 0;

    /// <summary>Queues a datagram to a sockaddr (empty for a connected socket); false when the batch is full or the payload exceeds a slot.</summary>
    public bool TryAdd(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> address)
    {
        if (Count == Capacity || payload.Length > _slotSize || address.Length > AddressSize) return false;
        payload.CopyTo(new Span<byte>(_payloads + (nint)Count * _slotSize, _slotSize));
        address.CopyTo(new Span<byte>(_addresses + (nint)Count * AddressSize, AddressSize));
        Prepare(Count, payload.Length, address.Length);
        Count++;
        return true;
    }

    /// <summary>
    /// The slot the next datagram queued fills, for one put together in place and queued by <see cref="TryCommit"/>
    /// without a copy; empty when the batch is full. The same memory until a datagram is queued or the batch is sent.
    /// </summary>
    public Span<byte> Free => Count == Capacity ? default : new Span<byte>(_payloads + (nint)Count * _slotSize, _slotSize);

    /// <summary>
    /// Queues <paramref name="payload"/>, which lies in <see cref="Free"/>, to a sockaddr where it lies; false (nothing
    /// queued) when it does not lie there, e.g. because the batch was sent since.
    /// </summary>
    public bool TryCommit(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> address)
    {
        if (Count == Capacity || address.Length > AddressSize) return false;
        var slot = _payloads + (nint)Count * _slotSize;
        var start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(payload));
        if (start < slot || start + payload.Length > slot + _slotSize) return false;
        address.CopyTo(new Span<byte>(_addresses + (nint)Count * AddressSize, AddressSize));
        Prepare(Count, payload.Length, address.Length, (int)(start - slot));
        Count++;
        return true;
    }

    /// <summary>
    /// Queues a datagram of <paramref name="length"/> bytes for a bound or connected socket and returns its slot for the
    /// caller to fill (so a message put together from parts is copied once); empty when the batch is full or it exceeds a slot.
    /// </summary>
    public Span<byte> Append(int length)
    {
        if (Count == Capacity || length > _slotSize) return default;
        Prepare(Count, length, 0);
        return new Span<byte>(_payloads + (nint)Count++ * _slotSize, length);
    }

    /// <summary>
    /// Sends every queued datagram and empties the batch; returns how many the kernel refused. A refused datagram (no route,
    /// queue full) is lost and the rest still go; an interrupted send is retried.
    /// </summary>
    public int SendAll(int fd)
    {
        const int Eintr = 4;
        var refused = 0;
        var start = 0;
        while (start < Count)
        {
            var n = Send(fd, start, out var errno);
            if (n > 0)
            {
                start += n;
                continue;
            }

            if (errno == Eintr) continue;
            refused++;
            start++;
        }

        Clear();
        return refused;
    }

    /// <summary>Sends the queued datagrams from <paramref name="start"/> on; returns how many left, or -1 with the errno of the first.</summary>
    public int Send(int fd, int start, out int errno)
    {
        if (start >= Count)
        {
            errno = 0;
            return 0;
        }

        if (Segmenting)
        {
            var sent = SendSegmented(fd, start, out errno);
            if (sent >= 0 || Segmenting) return sent; // refused: the same datagrams again, the plain way
        }

        var n = sendmmsg(fd, _headers + start, (uint)(Count - start), 0);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    // Collapses runs (same sockaddr, same length, the last possibly shorter) into one message each with a UDP_SEGMENT control
    // message. Returns datagrams sent, or -1; a refusal of the first run by the kernel or device (no GSO, no checksum
    // offload, a segment over the path MTU) turns segmenting off for good, and the caller sends the plain way.
    private int SendSegmented(int fd, int start, out int errno)
    {
        var messages = 0;
        for (var i = start; i < Count;)
        {
            var size = (int)_iov[i].Length;
            var total = size;
            var k = 1;
            while (i + k < Count && k < MaxSegments && (int)_iov[i + k].Length <= size && total + (int)_iov[i + k].Length <= MaxSegmentedBytes
                   && SameAddress(i, i + k))
            {
                var length = (int)_iov[i + k].Length;
                total += length;
                k++;
                if (length < size) break;
            }

            var header = _headers[i];
            if (k > 1)
            {
                var control = _control + (nint)messages * ControlSize;
                *(nuint*)control = (nuint)(sizeof(nuint) + 2 * sizeof(int) + sizeof(ushort));
                *(int*)(control + sizeof(nuint)) = SolUdp;
                *(int*)(control + sizeof(nuint) + sizeof(int)) = UdpSegment;
                *(ushort*)(control + sizeof(nuint) + 2 * sizeof(int)) = (ushort)size;
                header.Header.IovLength = (nuint)k;
                header.Header.Control = control;
                header.Header.ControlLength = (nuint)ControlSize;
            }

            _segmented[messages] = header;
            _runs[messages++] = k;
            i += k;
        }

        var n = sendmmsg(fd, _segmented, (uint)messages, 0);
        if (n < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (_runs[0] > 1 && errno is EIO or EINVAL or EMSGSIZE or ENOPROTOOPT or EOPNOTSUPP)
            {
                Segmenting = false;
                SegmentationRefused = errno;
            }

            return -1;
        }

        errno = 0;
        var datagrams = 0;
        for (var m = 0; m < n; m++)
        {
            datagrams += _runs[m];
            if (_runs[m] > 1) SegmentedSends++;
        }

        return datagrams;
    }

    private bool SameAddress(int a, int b)
    {
        var length = _headers[a].Header.NameLength;
        return length == _headers[b].Header.NameLength
               && new ReadOnlySpan<byte>(_addresses + (nint)a * AddressSize, (int)length).SequenceEqual(new ReadOnlySpan<byte>(_addresses + (nint)b * AddressSize, (int)length));
    }

    /// <summary>Forgets the datagrams held.</summary>
    public void Clear() => Count = 0;

    private void Prepare(int i, int length, int addressLength, int offset = 0)
    {
        _iov[i] = new IoVec { Base = _payloads + (nint)i * _slotSize + offset, Length = (nuint)length };
        _headers[i] = new MMsgHdr
        {
            Header = new MsgHdr
            {
                Name = addressLength == 0 ? null : _addresses + (nint)i * AddressSize,
                NameLength = (uint)addressLength,
                Iov = _iov + i,
                IovLength = 1,
            },
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        NativeMemory.Free(_payloads);
        NativeMemory.Free(_addresses);
        NativeMemory.Free(_headers);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_segmented);
        NativeMemory.Free(_control);
        NativeMemory.Free(_runs);
        NativeMemory.Free(_received);
        _payloads = _addresses = _control = _received = null;
        _headers = _segmented = null;
        _iov = null;
        _runs = null;
    }

    /// <summary>The few errnos a UDP loop acts on or logs, as the BCL's names.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        1 or 13 => SocketError.AccessDenied, // EPERM (a firewall), EACCES
        4 => SocketError.Interrupted,
        9 => SocketError.OperationAborted, // EBADF: closed under us
        11 => SocketError.WouldBlock, // EAGAIN: the receive timeout
        22 => SocketError.InvalidArgument,
        88 => SocketError.NotSocket,
        90 => SocketError.MessageSize,
        101 => SocketError.NetworkUnreachable,
        105 => SocketError.NoBufferSpaceAvailable,
        111 => SocketError.ConnectionRefused, // ICMP port-unreachable of an earlier send
        113 => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);
}
