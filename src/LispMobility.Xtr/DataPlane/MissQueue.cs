using LispMobility.Lisp.Addressing;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The first packets to destinations without a map-cache entry, held while their Map-Request is out: up to a fixed number
/// per destination, for a fixed number of destinations, in buffers allocated once. Owned by one ITR thread (no lock).
/// A destination is released in arrival order; packets added while it drains go behind the ones already held.
/// </summary>
internal sealed class MissQueue
{
    private readonly int _depth;
    private readonly int _slotSize;
    private readonly long _holdTicks;
    private readonly byte[] _data;
    private readonly int[] _lengths;
    private readonly AddressKind[] _kinds;
    private readonly UInt128[] _destinations;
    private readonly long[] _since;
    private readonly int[] _count;
    private readonly int[] _next;
    private int _used;

    public MissQueue(int destinations, int depth, int slotSize, TimeSpan hold)
    {
        _depth = depth;
        _slotSize = slotSize;
        _holdTicks = hold.Ticks;
        _data = new byte[destinations * depth * slotSize];
        _lengths = new int[destinations * depth];
        _kinds = new AddressKind[destinations];
        _destinations = new UInt128[destinations];
        _since = new long[destinations];
        _count = new int[destinations];
        _next = new int[destinations];
    }

    /// <summary>Whether no packet is held.</summary>
    public bool IsEmpty => _used == 0;

    /// <summary>Holds a copy of <paramref name="packet"/>; false when its destination's queue or the destination table is full.</summary>
    public bool TryHold(AddressKind kind, UInt128 destination, ReadOnlySpan<byte> packet, long nowTicks)
    {
        if (packet.Length > _slotSize) return false;
        var free = -1;
        var d = -1;
        for (var i = 0; i < _count.Length; i++)
        {
            if (_count[i] == 0)
            {
                if (free < 0) free = i;
            }
            else if (_destinations[i] == destination && _kinds[i] == kind)
            {
                d = i;
                break;
            }
        }

        if (d < 0)
        {
            if (free < 0) return false;
            d = free;
            _kinds[d] = kind;
            _destinations[d] = destination;
            _since[d] = nowTicks;
            _next[d] = 0;
            _used++;
        }
        else if (_count[d] == _depth)
        {
            return false;
        }

        var slot = d * _depth + _count[d]++;
        packet.CopyTo(_data.AsSpan(slot * _slotSize, _slotSize));
        _lengths[slot] = packet.Length;
        return true;
    }

    /// <summary>
    /// The next destination (from <paramref name="start"/> on) that still holds packets: its index, family, address and
    /// whether its hold ran out at <paramref name="nowTicks"/>; -1 when none.
    /// </summary>
    public int Next(int start, long nowTicks, out AddressKind kind, out UInt128 destination, out bool expired)
    {
        for (var i = start; i < _count.Length; i++)
        {
            if (_count[i] == 0) continue;
            kind = _kinds[i];
            destination = _destinations[i];
            expired = nowTicks - _since[i] >= _holdTicks;
            return i;
        }

        kind = default;
        destination = default;
        expired = false;
        return -1;
    }

    /// <summary>Copies the oldest packet of destination <paramref name="d"/> to <paramref name="target"/>; its length, or 0 when drained.</summary>
    public int Take(int d, Span<byte> target)
    {
        if (_next[d] == _count[d]) return 0;
        var slot = d * _depth + _next[d]++;
        var length = _lengths[slot];
        _data.AsSpan(slot * _slotSize, length).CopyTo(target);
        if (_next[d] == _count[d]) Free(d);
        return length;
    }

    /// <summary>Forgets destination <paramref name="d"/>'s packets; returns how many were still held.</summary>
    public int Discard(int d)
    {
        var left = _count[d] - _next[d];
        Free(d);
        return left;
    }

    private void Free(int d)
    {
        if (_count[d] == 0) return;
        _count[d] = 0;
        _next[d] = 0;
        _used--;
    }
}
