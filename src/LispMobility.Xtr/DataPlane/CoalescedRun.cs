using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The run a receive coalescer (<see cref="TcpCoalescer"/>, <see cref="UdpCoalescer"/>) is joining: the first packet whole,
/// then each joined packet's payload, behind room for the virtio-net header it is written to the TUN with. A packet's
/// checksum is verified in the pass that copies it in: it is copied behind the run first, and taken only if it verifies.
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

    /// <summary>
    /// Begins a run with <paramref name="packet"/> whole when it verifies: its bytes from <paramref name="checkFrom"/> (an
    /// even offset) on are summed as they are copied, and with <paramref name="sum"/> (the pseudo-header's) must give all
    /// ones; without <paramref name="check"/> nothing is verified. False: no run is pending.
    /// </summary>
    public bool TryStart(ReadOnlySpan<byte> packet, int checkFrom, uint sum, bool check, bool closed)
    {
        if (Length != 0) throw new InvalidOperationException("a run is pending: take it first");
        var target = _buffer.AsSpan(VirtioNetHeader.Length);
        packet[..checkFrom].CopyTo(target);
        if (!Verifies(InternetChecksum.CopyAndAdd(sum, packet[checkFrom..], target[checkFrom..]), check)) return false;
        Length = packet.Length;
        Segments = 1;
        Closed = closed;
        return true;
    }

    /// <summary>
    /// Appends a joined packet's <paramref name="payload"/> when it verifies: summed as it is copied behind the run, with
    /// <paramref name="sum"/> (the pseudo-header's and the headers' before the payload) it must give all ones. False: the
    /// run is as it was (the copy behind it is not part of it).
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> payload, uint sum, bool check)
    {
        if (!Verifies(InternetChecksum.CopyAndAdd(sum, payload, _buffer.AsSpan(VirtioNetHeader.Length + Length)), check)) return false;
        Length += payload.Length;
        Segments++;
        return true;
    }

    private static bool Verifies(uint sum, bool check) => !check || InternetChecksum.Finish(sum) == 0;

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
