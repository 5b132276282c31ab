using System.Buffers.Binary;

namespace LispMobility.Lisp.Wire;

/// <summary>
/// A big-endian cursor over a received datagram. Every read checks the remaining length first and
/// advances only on success; a failure leaves a <see cref="LispError"/> naming the field and the
/// absolute offset. Never throws on any input.
/// </summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buffer;

    public WireReader(ReadOnlySpan<byte> buffer, int position = 0)
    {
        _buffer = buffer;
        Position = position;
        Error = default;
    }

    public int Position { get; private set; }

    public readonly int Remaining => _buffer.Length - Position;

    public LispError Error { get; set; }

    public readonly ReadOnlySpan<byte> Buffer => _buffer;

    public bool Require(int count, string field)
    {
        if (count <= Remaining) return true;
        Error = LispError.Truncated(field, Position, count);
        return false;
    }

    public bool TryU8(string field, out byte value)
    {
        if (!Require(1, field)) { value = 0; return false; }
        value = _buffer[Position];
        Position += 1;
        return true;
    }

    public bool TryU16(string field, out ushort value)
    {
        if (!Require(2, field)) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt16BigEndian(_buffer[Position..]);
        Position += 2;
        return true;
    }

    public bool TryU32(string field, out uint value)
    {
        if (!Require(4, field)) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt32BigEndian(_buffer[Position..]);
        Position += 4;
        return true;
    }

    public bool TryU64(string field, out ulong value)
    {
        if (!Require(8, field)) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt64BigEndian(_buffer[Position..]);
        Position += 8;
        return true;
    }

    public bool TrySlice(int length, string field, out ReadOnlySpan<byte> slice)
    {
        if (length < 0 || !Require(length, field)) { slice = default; return false; }
        slice = _buffer.Slice(Position, length);
        Position += length;
        return true;
    }

    public bool Fail(LispError error)
    {
        Error = error;
        return false;
    }

    public void Seek(int position) => Position = position;
}
