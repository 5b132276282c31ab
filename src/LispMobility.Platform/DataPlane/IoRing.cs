using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// A minimal Linux io_uring for batches of <c>read</c>/<c>write</c> on file descriptors that move one packet per call (a
/// TUN device): a batch is queued, then issued and reaped with one <c>io_uring_enter</c>. On a machine where a syscall
/// costs microseconds (virtualised, mitigations) the syscall per packet, not the packet's work, is the forwarding limit.
/// Writes to a TUN device complete inline (<see cref="Submit"/>). A read with nothing queued does not: io_uring parks it
/// on a poll even on an O_NONBLOCK descriptor (and a TUN refuses RWF_NOWAIT), so reads are kept in flight
/// (<see cref="Issue"/>, <see cref="WaitForCompletion"/>, <see cref="TryTake"/>) and completed as packets arrive.
/// Not thread-safe: one ring belongs to one loop.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe partial class IoRing : IDisposable
{
    private const long SysSetup = 425, SysEnter = 426; // the same number on every architecture since Linux 5.1
    private const uint EnterGetEvents = 1, FeatSingleMmap = 1;
    private const byte OpRead = 22, OpWrite = 23;
    private const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;
    private const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MapPopulate = 0x8000;
    private const int Eintr = 4;
    private const byte OpAsyncCancel = 14;
    private const uint CancelFlagAll = 1, CancelFlagAny = 4;

    private int _fd;
    private byte* _sqRing;
    private byte* _cqRing;
    private readonly nuint _sqRingSize;
    private readonly nuint _cqRingSize;
    private Sqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly Cqe* _cqes;
    private uint _tail;
    private uint _queued;

    private IoRing(int fd, byte* parameters, byte* sqRing, nuint sqRingSize, byte* cqRing, nuint cqRingSize, Sqe* sqes, nuint sqesSize)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqes = sqes;
        _sqesSize = sqesSize;
        Capacity = (int)*(uint*)parameters;
        _sqTail = (uint*)(sqRing + *(uint*)(parameters + 44));
        _sqMask = *(uint*)(sqRing + *(uint*)(parameters + 48));
        _sqArray = (uint*)(sqRing + *(uint*)(parameters + 64));
        _cqHead = (uint*)(cqRing + *(uint*)(parameters + 80));
        _cqTail = (uint*)(cqRing + *(uint*)(parameters + 84));
        _cqMask = *(uint*)(cqRing + *(uint*)(parameters + 88));
        _cqes = (Cqe*)(cqRing + *(uint*)(parameters + 100));
        _tail = *_sqTail;
    }

    /// <summary>Requests one batch can hold.</summary>
    public int Capacity { get; }

    /// <summary>Requests queued and not yet issued.</summary>
    public int Queued => (int)_queued;

    /// <summary>A ring of at least <paramref name="entries"/> requests; null with the errno where io_uring is unavailable (old kernel, seccomp, kernel.io_uring_disabled).</summary>
    public static IoRing? TryCreate(int entries, out int errno)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entries, 1);
        var parameters = stackalloc byte[120];
        new Span<byte>(parameters, 120).Clear();
        var fd = (int)syscall(SysSetup, entries, (long)parameters, 0, 0, 0, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        var sqEntries = *(uint*)parameters;
        var cqEntries = *(uint*)(parameters + 4);
        var sqRingSize = (nuint)(*(uint*)(parameters + 64) + sqEntries * sizeof(uint));
        var cqRingSize = (nuint)(*(uint*)(parameters + 100) + cqEntries * (uint)sizeof(Cqe));
        var single = (*(uint*)(parameters + 20) & FeatSingleMmap) != 0;
        if (single) sqRingSize = cqRingSize = Math.Max(sqRingSize, cqRingSize);
        var sqesSize = (nuint)(sqEntries * (uint)sizeof(Sqe));
        var sqRing = Map(sqRingSize, fd, OffSqRing);
        var cqRing = single ? sqRing : Map(cqRingSize, fd, OffCqRing);
        var sqes = (Sqe*)Map(sqesSize, fd, OffSqes);
        if (sqRing == null || cqRing == null || sqes == null)
        {
            errno = Marshal.GetLastPInvokeError();
            if (sqRing != null) munmap(sqRing, sqRingSize);
            if (!single && cqRing != null) munmap(cqRing, cqRingSize);
            if (sqes != null) munmap(sqes, sqesSize);
            close(fd);
            return null;
        }

        errno = 0;
        return new IoRing(fd, parameters, sqRing, sqRingSize, cqRing, single ? 0 : cqRingSize, sqes, sqesSize);
    }

    /// <summary>Queues a read of up to <paramref name="length"/> bytes into <paramref name="buffer"/> (which must stay put until <see cref="Submit"/> returns); false when the batch is full.</summary>
    public bool TryQueueRead(int fd, byte* buffer, int length, int tag) => TryQueue(OpRead, fd, buffer, length, tag);

    /// <summary>Queues a write of <paramref name="length"/> bytes from <paramref name="data"/> (which must stay put until <see cref="Submit"/> returns); false when the batch is full.</summary>
    public bool TryQueueWrite(int fd, byte* data, int length, int tag) => TryQueue(OpWrite, fd, data, length, tag);

    /// <summary>
    /// Issues the queued requests with one <c>io_uring_enter</c> and waits for all of them (or, without
    /// <paramref name="wait"/>, takes only those that completed inline); the result of the request tagged t (bytes moved, or
    /// a negative errno) goes to <paramref name="results"/>[t]. Returns how many requests completed.
    /// </summary>
    public int Submit(Span<int> results, bool wait = true)
    {
        var pending = _queued;
        if (pending == 0) return 0;
        _queued = 0;
        Volatile.Write(ref *_sqTail, _tail);
        var toSubmit = pending;
        var completed = 0;
        while (completed < pending)
        {
            var r = syscall(SysEnter, _fd, toSubmit, wait ? pending - (uint)completed : 0, wait ? EnterGetEvents : 0, 0, 0);
            if (r < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Eintr) throw new IOException($"io_uring_enter: errno {errno}");
            }
            else
            {
                toSubmit -= (uint)Math.Min(r, toSubmit);
            }

            var head = *_cqHead;
            var tail = Volatile.Read(ref *_cqTail);
            for (; head != tail; head++)
            {
                var cqe = _cqes[head & _cqMask];
                if ((ulong)cqe.UserData < (ulong)results.Length) results[(int)cqe.UserData] = cqe.Result;
                completed++;
            }

            Volatile.Write(ref *_cqHead, head);
            if (!wait && toSubmit == 0) break;
        }

        return completed;
    }

    /// <summary>Issues the queued requests without waiting for or taking any completion (see <see cref="TryTake"/>).</summary>
    public void Issue()
    {
        var pending = _queued;
        if (pending == 0) return;
        _queued = 0;
        Volatile.Write(ref *_sqTail, _tail);
        while (pending > 0)
        {
            var r = syscall(SysEnter, _fd, pending, 0, 0, 0, 0);
            if (r < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Eintr) throw new IOException($"io_uring_enter: errno {errno}");
                continue;
            }

            pending -= (uint)Math.Min(r, pending);
        }
    }

    /// <summary>Takes the oldest completion, if any: the request's tag and its result (bytes moved, or a negative errno).</summary>
    public bool TryTake(out int tag, out int result)
    {
        var head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail))
        {
            tag = result = 0;
            return false;
        }

        var cqe = _cqes[head & _cqMask];
        tag = (int)cqe.UserData;
        result = cqe.Result;
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    /// <summary>Whether a completion is there to take.</summary>
    public bool HasCompletion => *_cqHead != Volatile.Read(ref *_cqTail);

    /// <summary>The ring's descriptor: readable (poll) while a completion is there to take.</summary>
    public int Descriptor => _fd;

    /// <summary>Waits up to <paramref name="timeoutMs"/> for a completion to take; false on timeout (or a signal).</summary>
    public bool WaitForCompletion(int timeoutMs)
    {
        if (*_cqHead != Volatile.Read(ref *_cqTail)) return true;
        return WakeableWait.Readable(_fd, timeoutMs);
    }

    /// <summary>
    /// Cancels every request still in flight (a read parked on an empty device) and waits until the kernel has answered
    /// <paramref name="inFlight"/> of them, so that their buffers may be freed; false when it did not within a second
    /// (then the buffers must not be freed).
    /// </summary>
    public bool CancelAll(int inFlight)
    {
        if (inFlight <= 0) return true;
        var index = _tail & _sqMask;
        var sqe = _sqes + index;
        *sqe = default;
        sqe->Opcode = OpAsyncCancel;
        sqe->Fd = -1;
        sqe->OperationFlags = CancelFlagAll | CancelFlagAny;
        sqe->UserData = ulong.MaxValue;
        _sqArray[index] = index;
        _tail++;
        Volatile.Write(ref *_sqTail, _tail);
        if (syscall(SysEnter, _fd, 1, 0, 0, 0, 0) < 0) return false;
        var answered = 0;
        var cancelAnswered = false;
        while (answered < inFlight || !cancelAnswered)
        {
            if (!WaitForCompletion(1000)) return false;
            while (TryTake(out var tag, out _))
            {
                if (tag == -1) cancelAnswered = true;
                else answered++;
            }
        }

        return true;
    }

    private bool TryQueue(byte op, int fd, byte* buffer, int length, int tag)
    {
        if (_queued == (uint)Capacity) return false;
        var index = _tail & _sqMask;
        var sqe = _sqes + index;
        *sqe = default;
        sqe->Opcode = op;
        sqe->Fd = fd;
        sqe->Offset = ulong.MaxValue; // the file position: a character device has none
        sqe->Address = (ulong)buffer;
        sqe->Length = (uint)length;
        sqe->UserData = (ulong)tag;
        _sqArray[index] = index;
        _tail++;
        _queued++;
        return true;
    }

    private static byte* Map(nuint size, int fd, long offset)
    {
        var p = mmap(null, size, ProtRead | ProtWrite, MapShared | MapPopulate, fd, offset);
        return p == (void*)-1 ? null : (byte*)p;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        munmap(_sqes, _sqesSize);
        if (_cqRingSize != 0) munmap(_cqRing, _cqRingSize); // 0: one mapping with the SQ ring
        munmap(_sqRing, _sqRingSize);
        _sqes = null;
        _sqRing = _cqRing = null;
        close(fd);
    }

    [StructLayout(LayoutKind.Sequential, Size = 64)]
    private struct Sqe
    {
        public byte Opcode;
        public byte Flags;
        public ushort Priority;
        public int Fd;
        public ulong Offset;
        public ulong Address;
        public uint Length;
        public uint OperationFlags;
        public ulong UserData;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Cqe
    {
        public ulong UserData;
        public int Result;
        public uint Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc")]
    private static partial int munmap(void* address, nuint length);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
