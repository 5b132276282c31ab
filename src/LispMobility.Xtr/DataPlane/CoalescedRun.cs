using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The run a receive coalescer (<see cref="TcpCoalescer"/>, <see cref="UdpCoalescer"/>) is joining, kept in the caller's
/// room (the EID device writer's next slot, so the run is written from where it was joined): the virtio-net header's room,
/// the first packet whole, then each joined packet's payload. Each copy also sums what it copies, so that the coalescer
/// verifies a checksum in the same pass.
/// </summary>
internal sealed class CoalescedRun
{
    /// <summary>The longest super-packet (one IP packet's length field).</summary>
    public const int MaxLength = 65535;

    /// <summary>The room a run needs: its virtio-net header, then the longest super-packet.</summary>
    public const int RoomLength = VirtioNetHeader.Length + MaxLength;

    /// <summary>Bytes of the run's packet so far, 0 when none is pending.</summary>
    public int Length { get; private set; }

    /// <summary>Packets joined in it.</summary>
    public int Segments { get; private set; }

    /// <summary>Whether nothing more may be joined (what ended it, e.g. PSH or a shorter payload, came).</summary>
    public bool Closed { get; set; }

    /// <summary>The run's packet so far in <paramref name="room"/> (headers of the first packet, then the payloads).</summary>
    public Span<byte> Packet(Span<byte> room) => room.Slice(VirtioNetHeader.Length, Length);

    /// <summary>
    /// Copies <paramref name="packet"/> into <paramref name="room"/> as a run's first packet and gives the sum of its bytes
    /// from <paramref name="sumFrom"/> (an even offset) on; nothing is pending until <see cref="Start"/>.
    /// </summary>
    public static uint CopyFirst(ReadOnlySpan<byte> packet, Span<byte> room, int sumFrom)
    {
        if (room.Length < RoomLength) throw new ArgumentException($"a run needs {RoomLength} bytes of room, not {room.Length}", nameof(room));
        var target = room[VirtioNetHeader.Length..];
        packet[..sumFrom].CopyTo(target);
        return InternetChecksum.CopyAndAdd(0, packet[sumFrom..], target[sumFrom..]);
    }

    /// <summary>Begins a run with the <paramref name="length"/> bytes <see cref="CopyFirst"/> copied.</summary>
    public void Start(int length, bool closed)
    {
        if (Length != 0) throw new InvalidOperationException("a run is pending: take it first");
        Length = length;
        Segments = 1;
        Closed = closed;
    }

    /// <summary>
    /// Copies a joined packet's <paramref name="payload"/> after the run in <paramref name="room"/> and gives its sum; the
    /// run is unchanged until <see cref="Append"/> (so a payload that fails its check is left behind it, unused).
    /// </summary>
    public uint CopyNext(ReadOnlySpan<byte> payload, Span<byte> room) =>
        InternetChecksum.CopyAndAdd(0, payload, room[(VirtioNetHeader.Length + Length)..]);

    /// <summary>Takes the <paramref name="payloadLength"/> bytes <see cref="CopyNext"/> copied into the run.</summary>
    public void Append(int payloadLength)
    {
        Length += payloadLength;
        Segments++;
    }

    /// <summary>The run with <paramref name="header"/> before it in <paramref name="room"/>; no run is pending after.</summary>
    public ReadOnlySpan<byte> Take(VirtioNetHeader header, Span<byte> room)
    {
        header.Write(room);
        var length = VirtioNetHeader.Length + Length;
        Length = 0;
        Closed = false;
        return room[..length];
    }
}
