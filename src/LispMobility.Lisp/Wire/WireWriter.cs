using System.Buffers.Binary;

namespace LispMobility.Lisp.Wire;

/// <summary>A big-endian cursor over a caller's buffer. Writers compute their length first, so an overrun is a bug and throws.</summary>
internal ref struct WireWriter
{
    private readonly Span<byte> _buffer;

    public WireWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        Position = 0;
    }

    public int Position { get; private set; }

    public readonly Span<byte> Buffer => _buffer;

    public void U8(byte value)
    {
        _buffer[Position] = value;
        Position += 1;
    }

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[Position..], value);
        Position += 2;
    }

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer[Position..], value);
        Position += 4;
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer[Position..], value);
        Position += 8;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer[Position..]);
        Position += value.Length;
    }

    public void Zeros(int count)
    {
        _buffer.Slice(Position, count).Clear();
        Position += count;
    }

    public Span<byte> Reserve(int count)
    {
        var slice = _buffer.Slice(Position, count);
        Position += count;
        return slice;
    }

    public static void EnsureCapacity(Span<byte> destination, int needed, string what)
    {
        if (destination.Length < needed)
        {
            throw new ArgumentException($"{what} needs {needed} bytes, the destination has {destination.Length}", nameof(destination));
        }
    }
}
