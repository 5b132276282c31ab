using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LispMobility.Platform.DataPlane;

/// <summary>
/// Writes packets to a <see cref="TunDevice"/> a batch per syscall: <see cref="Queue"/> copies a packet into a native slot,
/// <see cref="Flush"/> writes them all with one io_uring submission (one <c>write</c> per packet where io_uring is
/// unavailable). Where the device takes a virtio-net header, an empty one goes before each packet. One loop owns it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class TunWriter : IPacketWriter
{
    private readonly TunDevice _tun;
    private readonly IoRing? _ring;
    private readonly int _capacity;
    private readonly int _slotSize;
    private readonly int _header;
    private readonly int[] _lengths;
    private readonly int[] _results;
    private byte* _slots;
    private int _count;
    private long _dropped;

    /// <summary>Up to <paramref name="capacity"/> packets of up to <paramref name="maxPacket"/> bytes per batch; <paramref name="useRing"/> false writes one per syscall.</summary>
    public TunWriter(TunDevice tun, int capacity, int maxPacket, bool useRing = true)
    {
        _tun = tun ?? throw new ArgumentNullException(nameof(tun));
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacket, 1);
        _capacity = capacity;
        _header = tun.HasVnetHeader ? TunDevice.VnetHeaderLength : 0;
        _slotSize = (_header + maxPacket + 63) & ~63;
        _lengths = new int[capacity];
        _results = new int[capacity];
        _slots = (byte*)NativeMemory.Alloc((nuint)capacity * (nuint)_slotSize);
        var errno = 0;
        _ring = useRing ? IoRing.TryCreate(capacity, out errno) : null;
        RingErrno = errno;
        if (_ring is not null) _capacity = Math.Min(_capacity, _ring.Capacity);
    }

    /// <summary>True when batches go through io_uring; false when it was unavailable (see <see cref="RingErrno"/>).</summary>
    public bool Batched => _ring is not null;

    /// <summary>Why io_uring was unavailable (the errno of io_uring_setup), or 0.</summary>
    public int RingErrno { get; }

    /// <summary>Packets the device refused (its queue full, as on a congested link) or too long for a slot.</summary>
    public long Dropped => _dropped;

    /// <summary>Queues a copy of <paramref name="packet"/> (after an empty virtio-net header where the device takes one); flushes first when the batch is full.</summary>
    public void Queue(ReadOnlySpan<byte> packet) => Queue(packet, framed: false);

    /// <summary>
    /// Queues a copy of <paramref name="framed"/>, a packet that starts with its own virtio-net header (a super-packet to
    /// segment, or a verified checksum); only for a device that takes the header.
    /// </summary>
    public void QueueFramed(ReadOnlySpan<byte> framed)
    {
        if (_header == 0) throw new InvalidOperationException($"{_tun.Name} takes no virtio-net header");
        Queue(framed, framed: true);
    }

    private void Queue(ReadOnlySpan<byte> packet, bool framed)
    {
        var header = framed ? 0 : _header;
        if (header + packet.Length > _slotSize)
        {
            _dropped++;
            return;
        }

        if (_count == _capacity) Flush();
        var slot = new Span<byte>(_slots + (nint)_count * _slotSize, _slotSize);
        slot[..header].Clear();
        packet.CopyTo(slot[header..]);
        _lengths[_count++] = header + packet.Length;
    }

    /// <summary>Writes everything queued.</summary>
    public void Flush()
    {
        if (_count == 0) return;
        if (_ring is null)
        {
            for (var i = 0; i < _count; i++)
                if (!_tun.WriteFramed(new ReadOnlySpan<byte>(_slots + (nint)i * _slotSize, _lengths[i]))) _dropped++;
        }
        else
        {
            for (var i = 0; i < _count; i++) _ring.TryQueueWrite(_tun.Descriptor, _slots + (nint)i * _slotSize, _lengths[i], i);
            _ring.Submit(_results);
            for (var i = 0; i < _count; i++)
                if (_results[i] != _lengths[i]) _dropped++;
        }

        _count = 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ring?.Dispose();
        NativeMemory.Free(_slots);
        _slots = null;
    }
}
