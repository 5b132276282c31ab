using System.Buffers.Binary;
using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// Cuts a TCP super-packet that a TUN with TSO handed over into the segments the path carries, as a NIC's segmentation
/// offload would: each segment gets the headers with its own IPv4 length, ID and header checksum (or IPv6 payload length),
/// its sequence number, FIN and PSH on the last segment only, CWR on the first only, and a whole TCP checksum, summed in
/// the same pass that copies the payload. Reads the super-packet, writes one segment at a time into the caller's buffer;
/// allocates nothing.
/// </summary>
public ref struct TcpSegments
{
    private const byte Fin = 0x01, Psh = 0x08, Cwr = 0x80;
    private readonly ReadOnlySpan<byte> _packet;
    private readonly bool _v4;
    private readonly int _transport;
    private readonly int _headers;
    private readonly int _end;
    private readonly int _size;
    private int _offset;
    private int _index;

    private TcpSegments(ReadOnlySpan<byte> packet, bool v4, int transport, int headers, int end, int size)
    {
        _packet = packet;
        _v4 = v4;
        _transport = transport;
        _headers = headers;
        _end = end;
        _size = size;
        _offset = headers;
    }

    /// <summary>The bytes of the IP and TCP headers every segment repeats.</summary>
    public readonly int HeaderLength => _headers;

    /// <summary>The longest segment: the headers and a full segment's payload.</summary>
    public readonly int MaxSegmentLength => _headers + _size;

    /// <summary>
    /// Reads the super-packet <paramref name="packet"/> that <paramref name="header"/> describes; false when it is not a
    /// TCP packet of the header's family (IPv4 without fragmentation, IPv6 without extension headers), its headers do not
    /// fit, or the segment size is 0.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> packet, in VirtioNetHeader header, out TcpSegments segments)
    {
        segments = default;
        if (packet.IsEmpty || header.GsoSize == 0) return false;
        var type = header.GsoType & ~VirtioNetHeader.GsoEcn;
        int transport, end;
        switch (packet[0] >> 4)
        {
            case 4 when type == VirtioNetHeader.GsoTcpV4 && packet.Length >= IpPacket.IPv4HeaderLength:
                transport = (packet[0] & 0x0F) * 4;
                end = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                if (transport < IpPacket.IPv4HeaderLength || packet[9] != IpPacket.Tcp || (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0) return false;
                break;
            case 6 when type == VirtioNetHeader.GsoTcpV6 && packet.Length >= IpPacket.IPv6HeaderLength:
                transport = IpPacket.IPv6HeaderLength;
                end = IpPacket.IPv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
                if (packet[6] != IpPacket.Tcp) return false;
                break;
            default:
                return false;
        }

        if (end > packet.Length || transport + 20 > end) return false;
        var headers = transport + (packet[transport + 12] >> 4) * 4;
        if (headers < transport + 20 || headers > end) return false;
        segments = new TcpSegments(packet, packet[0] >> 4 == 4, transport, headers, end, header.GsoSize);
        return true;
    }

    /// <summary>
    /// Writes the next segment at the start of <paramref name="destination"/> (at least <see cref="HeaderLength"/> + the
    /// segment size long) and gives its length; false when every segment was written. A super-packet without payload
    /// gives one segment, its headers.
    /// </summary>
    public bool TryNext(Span<byte> destination, out int length)
    {
        length = 0;
        if (_offset >= _end && (_index > 0 || _end > _headers)) return false;
        var payload = Math.Min(_size, _end - _offset);
        var last = _offset + payload >= _end;
        length = _headers + payload;
        _packet[.._headers].CopyTo(destination);
        var payloadSum = InternetChecksum.CopyAndAdd(0, _packet.Slice(_offset, payload), destination[_headers..]);
        var segment = destination[..length];
        if (_v4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_packet[4..]) + _index));
            BinaryPrimitives.WriteUInt16BigEndian(segment[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(segment[10..], InternetChecksum.Finish(InternetChecksum.Add(0, segment[.._transport])));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(length - IpPacket.IPv6HeaderLength));
        }

        var tcp = segment[_transport..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], BinaryPrimitives.ReadUInt32BigEndian(_packet[(_transport + 4)..]) + (uint)(_offset - _headers));
        if (!last) tcp[13] &= unchecked((byte)~(Fin | Psh));
        if (_index > 0) tcp[13] &= unchecked((byte)~Cwr);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        // The payload starts a whole number of 32-bit words into the TCP header, so its sum adds to the header's as it is.
        var sum = IpPacket.PseudoHeaderSum(segment, _v4, length - _transport, IpPacket.Tcp) + payloadSum;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Finish(InternetChecksum.Add(sum, tcp[..(_headers - _transport)])));
        _offset += payload;
        _index++;
        if (payload == 0) _offset = _end + 1;
        return true;
    }
}
