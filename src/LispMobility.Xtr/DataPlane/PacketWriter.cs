using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Wire;

namespace LispMobility.Xtr.DataPlane;

/// <summary>Writes the outer IPv4/IPv6 and UDP headers of an encapsulated packet, and ICMP errors, in place.</summary>
internal static class PacketWriter
{
    /// <summary>Outer IPv4 + UDP + LISP header bytes.</summary>
    public const int IPv4Overhead = 20 + 8 + 8;

    /// <summary>Outer IPv6 + UDP + LISP header bytes.</summary>
    public const int IPv6Overhead = 40 + 8 + 8;

    /// <summary>The LISP data port.</summary>
    public const ushort DataPort = 4341;

    /// <summary>
    /// Writes an outer IPv4 header and a UDP header with checksum 0 (RFC 9300 §5.3) before <paramref name="udpPayloadLength"/>
    /// bytes already in place after them.
    /// </summary>
    public static void IPv4(Span<byte> packet, uint source, uint destination, byte tos, byte ttl, ushort sourcePort, int udpPayloadLength)
    {
        var total = 20 + 8 + udpPayloadLength;
        packet[0] = 0x45;
        packet[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)total);
        // DF on the outer header: the ITR checked the size against the path, and with DF the ID field may be 0 (RFC 6864).
        BinaryPrimitives.WriteUInt32BigEndian(packet[4..], 0x00004000);
        packet[8] = ttl;
        packet[9] = IpPacket.Udp;
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(packet[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(packet[16..], destination);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Finish(InternetChecksum.Add(0, packet[..20])));
        Udp(packet[20..], sourcePort, 8 + udpPayloadLength, 0);
    }

    /// <summary>
    /// Writes an outer IPv6 header and a UDP header with its checksum computed: a zero UDP checksum over IPv6 needs the ETR's
    /// consent (RFC 6935/6936), which nothing tells the ITR it has.
    /// </summary>
    public static void IPv6(Span<byte> packet, UInt128 source, UInt128 destination, byte trafficClass, byte hopLimit, uint flowLabel, ushort sourcePort, int udpPayloadLength)
    {
        var udpLength = 8 + udpPayloadLength;
        BinaryPrimitives.WriteUInt32BigEndian(packet, 0x60000000u | ((uint)trafficClass << 20) | (flowLabel & 0xFFFFF));
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)udpLength);
        packet[6] = IpPacket.Udp;
        packet[7] = hopLimit;
        BinaryPrimitives.WriteUInt128BigEndian(packet[8..], source);
        BinaryPrimitives.WriteUInt128BigEndian(packet[24..], destination);
        var udp = packet.Slice(40, udpLength);
        Udp(udp, sourcePort, udpLength, 0);
        var sum = InternetChecksum.Add(PseudoHeaderSum(packet[8..40], udpLength, IpPacket.Udp), udp);
        var checksum = InternetChecksum.Finish(sum);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    /// <summary>The IPv6 pseudo-header's sum (addresses, upper-layer length, next header).</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> addresses, int upperLength, byte nextHeader) =>
        InternetChecksum.Add(0, addresses) + (uint)(upperLength >> 16) + (uint)(upperLength & 0xFFFF) + nextHeader;

    private static void Udp(Span<byte> udp, ushort sourcePort, int length, ushort checksum)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], DataPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)length);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum);
    }

    /// <summary>
    /// Writes into <paramref name="reply"/> an ICMP Fragmentation Needed (IPv4) or ICMPv6 Packet Too Big telling
    /// <paramref name="mtu"/>, from <paramref name="from"/> to the sender of <paramref name="original"/>, quoting as much of
    /// it as the error may carry (576 / 1280 bytes in all). Returns the reply's length.
    /// </summary>
    public static int TooBig(ReadOnlySpan<byte> original, in IpPacket ip, UInt128 from, int mtu, Span<byte> reply)
    {
        if (ip.Kind == AddressKind.IPv4)
        {
            var quoted = Math.Min(ip.Length, Math.Min(576 - 28, reply.Length - 28));
            var total = 28 + quoted;
            reply[0] = 0x45;
            reply[1] = 0xC0; // internetwork control
            BinaryPrimitives.WriteUInt16BigEndian(reply[2..], (ushort)total);
            BinaryPrimitives.WriteUInt32BigEndian(reply[4..], 0);
            reply[8] = 64;
            reply[9] = 1;
            BinaryPrimitives.WriteUInt16BigEndian(reply[10..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(reply[12..], (uint)from);
            BinaryPrimitives.WriteUInt32BigEndian(reply[16..], (uint)ip.Source);
            BinaryPrimitives.WriteUInt16BigEndian(reply[10..], InternetChecksum.Finish(InternetChecksum.Add(0, reply[..20])));
            var icmp = reply[20..total];
            icmp[0] = 3;
            icmp[1] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
            original[..quoted].CopyTo(icmp[8..]);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Finish(InternetChecksum.Add(0, icmp)));
            return total;
        }
        else
        {
            var quoted = Math.Min(ip.Length, Math.Min(1280 - 48, reply.Length - 48));
            var icmpLength = 8 + quoted;
            BinaryPrimitives.WriteUInt32BigEndian(reply, 0x60000000u);
            BinaryPrimitives.WriteUInt16BigEndian(reply[4..], (ushort)icmpLength);
            reply[6] = 58;
            reply[7] = 64;
            BinaryPrimitives.WriteUInt128BigEndian(reply[8..], from);
            BinaryPrimitives.WriteUInt128BigEndian(reply[24..], ip.Source);
            var icmp = reply.Slice(40, icmpLength);
            icmp[0] = 2;
            icmp[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], (uint)mtu);
            original[..quoted].CopyTo(icmp[8..]);
            var sum = InternetChecksum.Add(PseudoHeaderSum(reply[8..40], icmpLength, 58), icmp);
            BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Finish(sum));
            return 40 + icmpLength;
        }
    }
}
