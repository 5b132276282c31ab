using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Wire;
using LispMobility.Xtr.Caching;

namespace LispMobility.Xtr.DataPlane;

/// <summary>
/// What the data plane reads of an IP packet's header (inner or outer): family, addresses as bits (an IPv4 address in the
/// low 32), protocol and ports, TTL, traffic class, DF and length. A value read from a span; nothing is allocated.
/// </summary>
public readonly record struct IpPacket(
    AddressKind Kind, UInt128 Source, UInt128 Destination, byte Protocol, ushort SourcePort, ushort DestinationPort,
    byte Ttl, byte TrafficClass, bool DontFragment, int Length, int HeaderLength)
{
    /// <summary>IPv4 header length without options.</summary>
    public const int IPv4HeaderLength = 20;

    /// <summary>IPv6 fixed header length.</summary>
    public const int IPv6HeaderLength = 40;

    /// <summary>The hash of the 5-tuple (ports 0 when absent): the flow's RLOC and outer source port come from it.</summary>
    public uint FlowHash
    {
        get
        {
            Span<byte> s = stackalloc byte[16];
            Span<byte> d = stackalloc byte[16];
            var n = Kind == AddressKind.IPv4 ? 4 : 16;
            Write(Source, Kind, s);
            Write(Destination, Kind, d);
            return RlocSelector.FlowHash(s[..n], d[..n], Protocol, SourcePort, DestinationPort);
        }
    }

    /// <summary>IP protocol numbers of TCP and UDP (the transports the data plane cuts, joins and encapsulates in).</summary>
    internal const byte Tcp = 6, Udp = 17;

    /// <summary>
    /// The sum of the pseudo-header of a <paramref name="protocol"/> header and payload of <paramref name="upperLength"/>
    /// bytes in the IPv4 or IPv6 <paramref name="packet"/> (no options, no extension headers).
    /// </summary>
    internal static uint PseudoHeaderSum(ReadOnlySpan<byte> packet, bool v4, int upperLength, byte protocol) =>
        v4 ? InternetChecksum.Add(0, packet[12..20]) + protocol + (uint)upperLength : PacketWriter.PseudoHeaderSum(packet[8..40], upperLength, protocol);

    /// <summary>
    /// Sets the length of the IPv4 (total length, and the header checksum anew) or IPv6 (payload length) header of
    /// <paramref name="packet"/> to the packet's whole length: the coalescers' super-packets, grown by what they joined.
    /// </summary>
    internal static void SetLength(Span<byte> packet)
    {
        if (packet[0] >> 4 == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)packet.Length);
            BinaryPrimitives.WriteUInt16BigEndian(packet[10..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Finish(InternetChecksum.Add(0, packet[..IPv4HeaderLength])));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(packet.Length - IPv6HeaderLength));
        }
    }

    /// <summary>Reads the header of the IPv4 or IPv6 packet that <paramref name="packet"/> holds; false when it is not one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> packet, out IpPacket ip)
    {
        ip = default;
        if (packet.IsEmpty) return false;
        switch (packet[0] >> 4)
        {
            case 4:
            {
                if (packet.Length < IPv4HeaderLength) return false;
                var ihl = (packet[0] & 0x0F) * 4;
                var total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                if (ihl < IPv4HeaderLength || total < ihl || total > packet.Length) return false;
                var fragment = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]);
                var protocol = packet[9];
                // Ports only in a first fragment (offset 0) and only for protocols that have them where TCP and UDP do.
                ushort sp = 0, dp = 0;
                if ((fragment & 0x1FFF) == 0 && HasPorts(protocol) && total >= ihl + 4)
                {
                    sp = BinaryPrimitives.ReadUInt16BigEndian(packet[ihl..]);
                    dp = BinaryPrimitives.ReadUInt16BigEndian(packet[(ihl + 2)..]);
                }

                ip = new IpPacket(AddressKind.IPv4, BinaryPrimitives.ReadUInt32BigEndian(packet[12..]), BinaryPrimitives.ReadUInt32BigEndian(packet[16..]),
                    protocol, sp, dp, packet[8], packet[1], (fragment & 0x4000) != 0, total, ihl);
                return true;
            }

            case 6:
            {
                if (packet.Length < IPv6HeaderLength) return false;
                var total = IPv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
                if (total > packet.Length) return false;
                var protocol = packet[6];
                ushort sp = 0, dp = 0;
                if (HasPorts(protocol) && total >= IPv6HeaderLength + 4)
                {
                    sp = BinaryPrimitives.ReadUInt16BigEndian(packet[IPv6HeaderLength..]);
                    dp = BinaryPrimitives.ReadUInt16BigEndian(packet[(IPv6HeaderLength + 2)..]);
                }

                var tc = (byte)((BinaryPrimitives.ReadUInt16BigEndian(packet) >> 4) & 0xFF);
                // IPv6 routers never fragment: every IPv6 packet is "DF".
                ip = new IpPacket(AddressKind.IPv6, BinaryPrimitives.ReadUInt128BigEndian(packet[8..]), BinaryPrimitives.ReadUInt128BigEndian(packet[24..]),
                    protocol, sp, dp, packet[7], tc, true, total, IPv6HeaderLength);
                return true;
            }

            default:
                return false;
        }
    }

    /// <summary>Writes an address's bytes (4 for IPv4, 16 for IPv6) in network order.</summary>
    public static void Write(UInt128 address, AddressKind kind, Span<byte> destination)
    {
        if (kind == AddressKind.IPv4) BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)address);
        else BinaryPrimitives.WriteUInt128BigEndian(destination, address);
    }

    /// <summary>The bits of an IP <see cref="LispAddress"/> as the data plane holds them.</summary>
    public static UInt128 Bits(LispAddress address) =>
        address.Kind == AddressKind.IPv4 ? address.IPv4Value : new UInt128(address.IPv6High, address.IPv6Low);

    // SCTP (132) and UDP-Lite (136) carry their ports where TCP and UDP do.
    private static bool HasPorts(byte protocol) => protocol is Tcp or Udp or 132 or 136;
}
