using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Reads a <see cref="TunDevice"/>'s packets into slots of native memory with free headroom before each (where the ITR
/// writes the outer headers in place). With io_uring, reads stay in flight and complete as packets arrive, so a flood costs
/// one <c>io_uring_enter</c> per batch instead of a <c>read</c> per packet; without it, <c>poll</c> then one <c>read</c> per
/// packet. One loop owns it: <see cref="Wait"/>, <see cref="Read"/>, handle the packets, <see cref="Rearm"/>; any thread
/// may <see cref="Wake"/> its wait (an eventfd polled beside the device), e.g. when an answer for held packets arrived.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class TunReader : IPacketReader
{
    private const int MinimumInFlight = 8, Eagain = 11, Eintr = 4;
    private readonly TunDevice _tun;
    private readonly int _queue;
    private readonly IoRing? _ring;
    private readonly int _capacity;
    private readonly int _headroom;
    private readonly int _slotSize;
    private readonly int[] _lengths;
    private readonly int[] _ready;
    private readonly Stack<int> _free;
    private readonly WakeableWait _wait = new();
    private byte* _slots;
    private int _count;
    private int _inFlight;

    /// <summary>
    /// Up to <paramref name="capacity"/> packets of up to <paramref name="maxPacket"/> bytes, each after <paramref name="headroom"/>
    /// free bytes, from the device's queue <paramref name="queue"/>; <paramref name="useRing"/> false reads one per syscall.
    /// </summary>
    public TunReader(TunDevice tun, int capacity, int headroom, int maxPacket, bool useRing = true, int queue = 0)
    {
        _tun = tun ?? throw new ArgumentNullException(nameof(tun));
        ArgumentOutOfRangeException.ThrowIfNegative(queue);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queue, tun.Queues);
        _queue = queue;
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacket, 1);
        _capacity = capacity;
        _headroom = headroom;
        _slotSize = (headroom + maxPacket + 63) & ~63;
        _lengths = new int[capacity];
        _ready = new int[capacity];
        _free = new Stack<int>(capacity);
        for (var i = capacity - 1; i >= 0; i--) _free.Push(i);
        _slots = (byte*)NativeMemory.Alloc((nuint)capacity * (nuint)_slotSize); // untouched pages stay uncommitted
        var errno = 0;
        _ring = useRing ? IoRing.TryCreate(capacity, out errno) : null;
        RingErrno = errno;
        if (_ring is null) return;
        _capacity = Math.Min(_capacity, _ring.Capacity);
        Rearm(MinimumInFlight);
    }

    /// <summary>True when reads go through io_uring; false when it was unavailable (see <see cref="RingErrno"/>).</summary>
    public bool Batched => _ring is not null;

    /// <summary>Why io_uring was unavailable (the errno of io_uring_setup), or 0.</summary>
    public int RingErrno { get; }

    /// <summary>Always 0: what the TUN's queue drops the kernel counts as the device's transmit drops (<c>ip -s link</c>).</summary>
    public long TakeDropped() => 0;

    /// <summary>Waits up to <paramref name="timeoutMs"/> for packets to read or a <see cref="Wake"/>; false on timeout.</summary>
    public bool Wait(int timeoutMs)
    {
        if (_ring is { HasCompletion: true }) return true;
        return _wait.Wait(_ring?.Descriptor ?? _tun.DescriptorOf(_queue), timeoutMs);
    }

    /// <summary>Ends the owner's current or next <see cref="Wait"/> at once; from any thread.</summary>
    public void Wake() => _wait.Wake();

    /// <summary>
    /// The packets read since the last call (non-blocking; 0 when none): packet i is <see cref="Slot"/>(i) from the
    /// headroom on, <see cref="Length"/>(i) bytes, valid until <see cref="Rearm"/>.
    /// </summary>
    public int Read()
    {
        _count = 0;
        if (_ring is null)
        {
            for (; _count < _capacity; _count++)
            {
                var length = _tun.Read(new Span<byte>(_slots + (nint)_count * _slotSize + _headroom, _slotSize - _headroom), _queue);
                if (length <= 0) break;
                _ready[_count] = _count;
                _lengths[_count] = length;
            }

            return _count;
        }

        while (_count < _capacity && _ring.TryTake(out var slot, out var result))
        {
            _inFlight--;
            if (result > 0)
            {
                _ready[_count] = slot;
                _lengths[_count++] = result;
            }
            else
            {
                _free.Push(slot);
                if (result is not (0 or -Eagain or -Eintr)) throw new IOException($"read {_tun.Name}: errno {-result}");
            }
        }

        return _count;
    }

    /// <summary>Slot of packet <paramref name="index"/>: the headroom, then the packet.</summary>
    public Span<byte> Slot(int index) => new(_slots + (nint)_ready[index] * _slotSize, _slotSize);

    /// <summary>The length of packet <paramref name="index"/>.</summary>
    public int Length(int index) => _lengths[index];

    /// <summary>
    /// Hands the last batch's slots back and keeps reads in flight: twice the batch just read (at least 8, at most all
    /// slots), so a trickle keeps few reads parked and a flood soon has every slot in flight.
    /// </summary>
    public void Rearm()
    {
        if (_ring is null) return;
        for (var i = 0; i < _count; i++) _free.Push(_ready[i]);
        Rearm(Math.Clamp(_count * 2, MinimumInFlight, _capacity));
        _count = 0;
    }

    private void Rearm(int target)
    {
        while (_inFlight < target && _free.TryPop(out var slot))
        {
            _ring!.TryQueueRead(_tun.DescriptorOf(_queue), _slots + (nint)slot * _slotSize + _headroom, _slotSize - _headroom, slot);
            _inFlight++;
        }

        _ring!.Issue();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_slots == null) return;
        _wait.Dispose();
        if (_ring is not null)
        {
            // Parked reads write into the slots when a packet comes: the slots are freed only once all are cancelled (else
            // left to the process, a leak rather than a write into freed memory).
            var cancelled = _ring.CancelAll(_inFlight);
            _ring.Dispose();
            if (!cancelled)
            {
                _slots = null;
                return;
            }
        }

        NativeMemory.Free(_slots);
        _slots = null;
    }
}
