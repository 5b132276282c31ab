using System.Buffers.Binary;
using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// The ETR's receive offload for UDP (what UDP GRO does for a socket): consecutive decapsulated datagrams of one UDP flow,
/// of one payload size (the last may be shorter), are joined into one UDP GSO super-packet (VIRTIO_NET_HDR_GSO_UDP_L4),
/// written to the TUN once; the stack forwards it whole and cuts it back into the same datagrams where it is delivered.
/// Joins only IPv4 datagrams with DF (their IDs carry nothing) and IPv6 ones, with identical IP and UDP headers but for
/// the lengths, IPv4 ID and checksums, and a checksum that verifies (or none, over IPv4). Sans I/O, like
/// <see cref="TcpCoalescer"/>. One loop owns it.
/// </summary>
public sealed class UdpCoalescer
{
    // The kernel cuts at most this many segments from one UDP GSO packet (UDP_MAX_SEGMENTS before Linux 6.6).
    private const int MaxSegments = 64;
    private const int UdpHeader = 8;
    private readonly CoalescedRun _run = new();
    private int _transport;
    private int _size;

    /// <summary>Whether a run is pending (then <see cref="Take"/> before anything else is written, to keep the order).</summary>
    public bool HasRun => _run.Length > 0;

    /// <summary>Runs of two datagrams or more written as one super-packet.</summary>
    public long Joined { get; private set; }

    /// <summary>Joins <paramref name="packet"/> to the pending run when it continues it; false otherwise (nothing changes).</summary>
    public bool TryAppend(ReadOnlySpan<byte> packet)
    {
        if (_run.Length == 0 || _run.Closed || _run.Segments == MaxSegments) return false;
        if (!Candidate(packet, out var transport) || transport != _transport) return false;
        var payload = packet.Length - transport - UdpHeader;
        if (payload > _size || _run.Length + payload > CoalescedRun.MaxLength) return false;
        var run = _run.Packet;
        // Same version and TOS (traffic class, flow label), DF, TTL (hop limit), protocol and addresses; same ports.
        var v4 = transport == IpPacket.IPv4HeaderLength;
        if (v4 ? !packet[..2].SequenceEqual(run[..2]) || !packet.Slice(6, 4).SequenceEqual(run.Slice(6, 4)) || !packet.Slice(12, 8).SequenceEqual(run.Slice(12, 8))
               : !packet[..4].SequenceEqual(run[..4]) || !packet.Slice(6, 34).SequenceEqual(run.Slice(6, 34)))
        {
            return false;
        }

        if (!packet.Slice(transport, 4).SequenceEqual(run.Slice(transport, 4)) || !Checksum(packet, transport, out var check, out var pseudo)) return false;
        if (!_run.TryAppend(packet[(transport + UdpHeader)..], pseudo + InternetChecksum.Add(0, packet.Slice(transport, UdpHeader)), check)) return false;
        // A shorter datagram can only be a run's last: the stack cuts every segment but the last to the first's size.
        if (payload < _size) _run.Closed = true;
        return true;
    }

    /// <summary>Begins a run with <paramref name="packet"/> when it is a datagram that may be joined; false otherwise.</summary>
    public bool TryStart(ReadOnlySpan<byte> packet)
    {
        if (_run.Length != 0) throw new InvalidOperationException("a run is pending: take it first");
        if (!Candidate(packet, out var transport) || packet.Length == transport + UdpHeader || !Checksum(packet, transport, out var check, out var pseudo)) return false;
        if (!_run.TryStart(packet, transport, pseudo, check, closed: false)) return false;
        _transport = transport;
        _size = packet.Length - transport - UdpHeader;
        return true;
    }

    /// <summary>
    /// The pending run with its virtio-net header before it, and no run pending after. One datagram goes as it came (its
    /// checksum marked verified); two or more as a super-packet whose UDP checksum is left partial for the stack, with the
    /// header's segment size the first datagram's payload.
    /// </summary>
    public ReadOnlySpan<byte> Take()
    {
        if (_run.Length == 0) return default;
        if (_run.Segments == 1) return _run.Take(VirtioNetHeader.Verified);
        var packet = _run.Packet;
        var v4 = _transport == IpPacket.IPv4HeaderLength;
        var udpLength = packet.Length - _transport;
        IpPacket.SetLength(packet);
        // The UDP length and partial checksum of the whole: the stack's segmentation swaps the length for each segment's.
        BinaryPrimitives.WriteUInt16BigEndian(packet[(_transport + 4)..], (ushort)udpLength);
        var pseudo = IpPacket.PseudoHeaderSum(packet, v4, udpLength, IpPacket.Udp);
        BinaryPrimitives.WriteUInt16BigEndian(packet[(_transport + 6)..], (ushort)~InternetChecksum.Finish(pseudo));
        Joined++;
        return _run.Take(new VirtioNetHeader(VirtioNetHeader.NeedsChecksum, VirtioNetHeader.GsoUdpL4, (ushort)(_transport + UdpHeader), (ushort)_size, (ushort)_transport, 6));
    }

    // IPv4 without options or fragments and with DF, IPv6 without extension headers; UDP whose length is the packet's rest.
    private static bool Candidate(ReadOnlySpan<byte> packet, out int transport)
    {
        transport = 0;
        if (packet.Length < IpPacket.IPv4HeaderLength + UdpHeader) return false;
        switch (packet[0])
        {
            case 0x45 when packet[9] == IpPacket.Udp && BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) == 0x4000
                           && BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) == packet.Length:
                transport = IpPacket.IPv4HeaderLength;
                break;
            case >= 0x60 and < 0x70 when packet.Length >= IpPacket.IPv6HeaderLength + UdpHeader && packet[6] == IpPacket.Udp
                                         && IpPacket.IPv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) == packet.Length:
                transport = IpPacket.IPv6HeaderLength;
                break;
            default:
                return false;
        }

        return BinaryPrimitives.ReadUInt16BigEndian(packet[(transport + 4)..]) == packet.Length - transport;
    }

    // The stack trusts a super-packet's partial checksum, so every datagram joined must verify: whether its checksum is to be
    // checked (an IPv4 datagram without one, 0, has nothing to verify) and the pseudo-header's sum; false for a zero checksum
    // over IPv6, which is invalid.
    private static bool Checksum(ReadOnlySpan<byte> packet, int transport, out bool check, out uint pseudo)
    {
        var v4 = transport == IpPacket.IPv4HeaderLength;
        check = BinaryPrimitives.ReadUInt16BigEndian(packet[(transport + 6)..]) != 0;
        pseudo = check ? IpPacket.PseudoHeaderSum(packet, v4, packet.Length - transport, IpPacket.Udp) : 0;
        return check || v4;
    }
}
