namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The run a receive coalescer (<see cref="TcpCoalescer"/>, <see cref="UdpCoalescer"/>) is joining: the first packet whole,
/// then each joined packet's payload, behind room for the virtio-net header it is written to the TUN with.
/// </summary>
internal sealed class CoalescedRun
{
    /// <summary>The longest super-packet (one IP packet's length field).</summary>
    public const int MaxLength = 65535;

    private readonly byte[] _buffer = new byte[VirtioNetHeader.Length + MaxLength];

    /// <summary>Bytes of the run's packet so far, 0 when none is pending.</summary>
    public int Length { get; private set; }

    /// <summary>Packets joined in it.</summary>
    public int Segments { get; private set; }

    /// <summary>Whether nothing more may be joined (what ended it, e.g. PSH or a shorter payload, came).</summary>
    public bool Closed { get; set; }

    /// <summary>The run's packet so far (headers of the first packet, then the payloads).</summary>
    public Span<byte> Packet => _buffer.AsSpan(VirtioNetHeader.Length, Length);

    /// <summary>Begins a run with <paramref name="packet"/> whole.</summary>
    public void Start(ReadOnlySpan<byte> packet, bool closed)
    {
        if (Length != 0) throw new InvalidOperationException("a run is pending: take it first");
        packet.CopyTo(_buffer.AsSpan(VirtioNetHeader.Length));
        Length = packet.Length;
        Segments = 1;
        Closed = closed;
    }

    /// <summary>Appends a joined packet's payload.</summary>
    public void Append(ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(_buffer.AsSpan(VirtioNetHeader.Length + Length));
        Length += payload.Length;
        Segments++;
    }

    /// <summary>The run with <paramref name="header"/> before it; no run is pending after.</summary>
    public ReadOnlySpan<byte> Take(VirtioNetHeader header)
    {
        header.Write(_buffer);
        var length = VirtioNetHeader.Length + Length;
        Length = 0;
        Closed = false;
        return _buffer.AsSpan(0, length);
    }
}
