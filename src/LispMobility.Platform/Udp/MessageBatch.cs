using System.Net.Sockets;
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
    private readonly int _slotSize;
    private byte* _payloads;
    private byte* _addresses;
    private MMsgHdr* _headers;
    private IoVec* _iov;

    /// <summary>Allocates <paramref name="capacity"/> slots of <paramref name="slotSize"/> bytes (untouched pages stay uncommitted).</summary>
    public MessageBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 1);
        Capacity = capacity;
        _slotSize = slotSize;
        _payloads = (byte*)NativeMemory.Alloc((nuint)capacity * (nuint)slotSize);
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)capacity * AddressSize);
        _headers = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MMsgHdr));
        _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(IoVec));
    }

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
        for (var i = 0; i < Capacity; i++) Prepare(i, _slotSize, AddressSize);
        var n = recvmmsg(fd, _headers, (uint)Capacity, MsgWaitForOne, null);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        Count = Math.Max(0, n);
        return n;
    }

    /// <summary>The payload of received datagram <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Payload(int index) => new(_payloads + (nint)index * _slotSize, (int)_headers[index].Length);

    /// <summary>The sender of received datagram <paramref name="index"/> as the kernel's sockaddr bytes.</summary>
    public ReadOnlySpan<byte> Address(int index) => new(_addresses + (nint)index * AddressSize, (int)Math.Min(_headers[index].Header.NameLength, AddressSize));

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

    /// <summary>Sends the queued datagrams from <paramref name="start"/> on; returns how many left, or -1 with the errno of the first.</summary>
    public int Send(int fd, int start, out int errno)
    {
        var n = start >= Count ? 0 : sendmmsg(fd, _headers + start, (uint)(Count - start), 0);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    /// <summary>Forgets the datagrams held.</summary>
    public void Clear() => Count = 0;

    private void Prepare(int i, int length, int addressLength)
    {
        _iov[i] = new IoVec { Base = _payloads + (nint)i * _slotSize, Length = (nuint)length };
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
        _payloads = _addresses = null;
        _headers = null;
        _iov = null;
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
