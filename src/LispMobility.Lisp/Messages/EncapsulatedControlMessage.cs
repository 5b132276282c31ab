using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// Encapsulated Control Message (type 8, RFC 9301 §5.8): a control message (a Map-Request, mostly)
/// with a whole inner IP and UDP header, so that the Map-Resolver can answer the original sender.
/// <code>
/// |Type=8 |S|D|E|M|            Reserved                           |
/// |             IPv4 or IPv6 header (inner source = ITR)          |
/// |             UDP header (dst port 4342)                        |
/// |             LISP control message                              |
/// </code>
/// </summary>
public sealed record EncapsulatedControlMessage : LispMessage
{
    internal const byte SBit = 0x08, DBit = 0x04, EBit = 0x02, MBit = 0x01;

    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.EncapsulatedControlMessage;

    /// <summary>S: LISP-SEC material follows the inner message.</summary>
    public bool Security { get; init; }

    /// <summary>D: sent by a DDT node.</summary>
    public bool DdtOriginated { get; init; }

    /// <summary>E: forwarded by a Map-Server to an ETR.</summary>
    public bool ForwardToEtr { get; init; }

    /// <summary>M: destined to a Map-Server.</summary>
    public bool ToMapServer { get; init; }

    /// <summary>Inner IP source (the ITR's RLOC or the requesting EID).</summary>
    public LispAddress InnerSource { get; init; }

    /// <summary>Inner IP destination (the EID being asked for).</summary>
    public LispAddress InnerDestination { get; init; }

    /// <summary>Inner UDP source port (where a proxy Map-Reply goes).</summary>
    public ushort InnerSourcePort { get; init; } = LispPorts.Control;

    /// <summary>Inner UDP destination port.</summary>
    public ushort InnerDestinationPort { get; init; } = LispPorts.Control;

    /// <summary>Inner IP TTL / hop limit.</summary>
    public byte InnerTtl { get; init; } = 64;

    /// <summary>The encapsulated control message's bytes.</summary>
    public ReadOnlyMemory<byte> InnerMessage { get; init; }

    private int InnerHeaderLength => (InnerSource.Kind == AddressKind.IPv6 ? 40 : 20) + 8;

    /// <summary>Wraps <paramref name="inner"/> with inner headers from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static EncapsulatedControlMessage Wrap(LispMessage inner, LispAddress source, LispAddress destination, ushort sourcePort = LispPorts.Control)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new EncapsulatedControlMessage { InnerSource = source, InnerDestination = destination, InnerSourcePort = sourcePort, InnerMessage = inner.ToArray() };
    }

    /// <inheritdoc />
    public override int GetSerializedLength() => 4 + InnerHeaderLength + InnerMessage.Length;

    /// <inheritdoc />
    public override int Write(Span<byte> destination)
    {
        var src = InnerSource.WithInstanceId(null);
        var dst = InnerDestination.WithInstanceId(null);
        if (!src.IsIp || src.Kind != dst.Kind) throw new InvalidOperationException("inner source and destination must be IP addresses of one family");
        var length = GetSerializedLength();
        EnsureCapacity(destination, length, Type);
        var udpLength = 8 + InnerMessage.Length;
        if (udpLength > ushort.MaxValue - 40) throw new InvalidOperationException("inner message too long");
        var w = new WireWriter(destination);
        w.U8((byte)(((int)Type << 4) | (Security ? SBit : 0) | (DdtOriginated ? DBit : 0) | (ForwardToEtr ? EBit : 0) | (ToMapServer ? MBit : 0)));
        w.Zeros(3);
        var ipStart = w.Position;
        if (src.Kind == AddressKind.IPv4)
        {
            w.U8(0x45);
            w.U8(0);
            w.U16((ushort)(20 + udpLength));
            w.U32(0); // identification, flags, fragment offset
            w.U8(InnerTtl);
            w.U8(17);
            w.U16(0);
            w.U32(src.IPv4Value);
            w.U32(dst.IPv4Value);
            var header = destination.Slice(ipStart, 20);
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], InternetChecksum.Finish(InternetChecksum.Add(0, header)));
        }
        else
        {
            w.U32(0x60000000);
            w.U16((ushort)udpLength);
            w.U8(17);
            w.U8(InnerTtl);
            w.U64(src.IPv6High);
            w.U64(src.IPv6Low);
            w.U64(dst.IPv6High);
            w.U64(dst.IPv6Low);
        }

        var udpStart = w.Position;
        w.U16(InnerSourcePort);
        w.U16(InnerDestinationPort);
        w.U16((ushort)udpLength);
        w.U16(0);
        w.Bytes(InnerMessage.Span);
        var udp = destination.Slice(udpStart, udpLength);
        var checksum = InternetChecksum.Finish(EcmView.PseudoHeaderSum(destination[ipStart..udpStart], src.Kind, udpLength) + InternetChecksum.Add(0, udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
        return w.Position;
    }

    /// <summary>Reads an ECM.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out EncapsulatedControlMessage message, out LispError error)
    {
        message = null!;
        if (!EcmView.TryRead(datagram, out var v, out error)) return false;
        message = new EncapsulatedControlMessage
        {
            Security = v.Security, DdtOriginated = v.DdtOriginated, ForwardToEtr = v.ForwardToEtr, ToMapServer = v.ToMapServer,
            InnerSource = v.InnerSource, InnerDestination = v.InnerDestination, InnerSourcePort = v.InnerSourcePort,
            InnerDestinationPort = v.InnerDestinationPort, InnerTtl = v.InnerTtl, InnerMessage = v.InnerMessage.ToArray(),
        };
        return true;
    }
}

/// <summary>A validated ECM inside a received buffer; the inner message is a slice, nothing is copied.</summary>
public readonly ref struct EcmView
{
    private readonly byte _flags;

    private EcmView(byte flags, LispAddress source, LispAddress destination, ushort sourcePort, ushort destinationPort, byte ttl, ReadOnlySpan<byte> inner)
    {
        _flags = flags;
        InnerSource = source;
        InnerDestination = destination;
        InnerSourcePort = sourcePort;
        InnerDestinationPort = destinationPort;
        InnerTtl = ttl;
        InnerMessage = inner;
    }

    /// <summary>S bit.</summary>
    public bool Security => (_flags & EncapsulatedControlMessage.SBit) != 0;

    /// <summary>D bit.</summary>
    public bool DdtOriginated => (_flags & EncapsulatedControlMessage.DBit) != 0;

    /// <summary>E bit.</summary>
    public bool ForwardToEtr => (_flags & EncapsulatedControlMessage.EBit) != 0;

    /// <summary>M bit.</summary>
    public bool ToMapServer => (_flags & EncapsulatedControlMessage.MBit) != 0;

    /// <summary>Inner IP source.</summary>
    public LispAddress InnerSource { get; }

    /// <summary>Inner IP destination.</summary>
    public LispAddress InnerDestination { get; }

    /// <summary>Inner UDP source port.</summary>
    public ushort InnerSourcePort { get; }

    /// <summary>Inner UDP destination port.</summary>
    public ushort InnerDestinationPort { get; }

    /// <summary>Inner TTL / hop limit.</summary>
    public byte InnerTtl { get; }

    /// <summary>The encapsulated control message.</summary>
    public ReadOnlySpan<byte> InnerMessage { get; }

    /// <summary>Validates an ECM: both inner headers, their lengths and checksums.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out EcmView view, out LispError error)
    {
        view = default;
        var r = new WireReader(datagram);
        if (!r.TryU8("Type", out var first) || !r.TryU8("Reserved", out _) || !r.TryU16("Reserved", out _))
        {
            error = r.Error;
            return false;
        }

        if ((LispMessageType)(first >> 4) != LispMessageType.EncapsulatedControlMessage)
        {
            error = LispError.Invalid("Type", 0, first >> 4, "not an ECM");
            return false;
        }

        var ipStart = r.Position;
        if (!r.TryU8("Inner IP version", out var versionByte)) { error = r.Error; return false; }
        LispAddress source, destination;
        byte ttl;
        int udpStart;
        AddressKind family;
        int ipPayloadLimit;
        switch (versionByte >> 4)
        {
            case 4:
                var ihl = (versionByte & 0x0F) * 4;
                if (ihl < 20) { error = LispError.Invalid("Inner IPv4 IHL", ipStart, ihl / 4); return false; }
                if (!r.Require(ihl - 1, "Inner IPv4 header")) { error = r.Error; return false; }
                var ip4 = datagram.Slice(ipStart, ihl);
                var totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip4[2..]);
                if (totalLength < ihl + 8)
                {
                    error = LispError.Invalid("Inner IPv4 Total Length", ipStart + 2, totalLength, "shorter than the IPv4 and UDP headers");
                    return false;
                }

                // A datagram cut short is truncation, not a lying header: say so, like every other reader.
                if (totalLength > datagram.Length - ipStart)
                {
                    error = LispError.Truncated("Inner IPv4 packet", ipStart, totalLength);
                    return false;
                }

                if (ip4[9] != 17) { error = LispError.Unsupported("Inner IPv4 Protocol", ipStart + 9, ip4[9], "only UDP is encapsulated"); return false; }
                if (InternetChecksum.Finish(InternetChecksum.Add(0, ip4)) != 0)
                {
                    error = LispError.Invalid("Inner IPv4 Header Checksum", ipStart + 10, BinaryPrimitives.ReadUInt16BigEndian(ip4[10..]), "checksum mismatch");
                    return false;
                }

                ttl = ip4[8];
                source = LispAddress.IPv4(BinaryPrimitives.ReadUInt32BigEndian(ip4[12..]));
                destination = LispAddress.IPv4(BinaryPrimitives.ReadUInt32BigEndian(ip4[16..]));
                udpStart = ipStart + ihl;
                family = AddressKind.IPv4;
                ipPayloadLimit = ipStart + totalLength;
                break;
            case 6:
                if (!r.Require(39, "Inner IPv6 header")) { error = r.Error; return false; }
                var ip6 = datagram.Slice(ipStart, 40);
                var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip6[4..]);
                if (ip6[6] != 17) { error = LispError.Unsupported("Inner IPv6 Next Header", ipStart + 6, ip6[6], "only UDP without extension headers"); return false; }
                if (payloadLength < 8)
                {
                    error = LispError.Invalid("Inner IPv6 Payload Length", ipStart + 4, payloadLength, "shorter than the UDP header");
                    return false;
                }

                if (payloadLength > datagram.Length - ipStart - 40)
                {
                    error = LispError.Truncated("Inner IPv6 payload", ipStart + 40, payloadLength);
                    return false;
                }

                ttl = ip6[7];
                source = LispAddress.IPv6(BinaryPrimitives.ReadUInt64BigEndian(ip6[8..]), BinaryPrimitives.ReadUInt64BigEndian(ip6[16..]));
                destination = LispAddress.IPv6(BinaryPrimitives.ReadUInt64BigEndian(ip6[24..]), BinaryPrimitives.ReadUInt64BigEndian(ip6[32..]));
                udpStart = ipStart + 40;
                family = AddressKind.IPv6;
                ipPayloadLimit = udpStart + payloadLength;
                break;
            default:
                error = LispError.Invalid("Inner IP version", ipStart, versionByte >> 4, "neither 4 nor 6");
                return false;
        }

        var udp = datagram[udpStart..ipPayloadLimit];
        var udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength != udp.Length)
        {
            error = LispError.Invalid("Inner UDP Length", udpStart + 4, udpLength, "does not match the inner IP length");
            return false;
        }

        if (ipPayloadLimit != datagram.Length)
        {
            error = LispError.Invalid("Message length", ipPayloadLimit, datagram.Length - ipPayloadLimit, "bytes after the inner datagram");
            return false;
        }

        // A zero UDP checksum means "not computed" for IPv4; some implementations send it over IPv6 too
        // inside an ECM, where the outer UDP already protects the bytes — accepted, anything else is checked.
        var received = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
        if (received != 0 &&
            InternetChecksum.Finish(PseudoHeaderSum(datagram[ipStart..udpStart], family, udpLength) + InternetChecksum.Add(0, udp)) != 0)
        {
            error = LispError.Invalid("Inner UDP Checksum", udpStart + 6, received, "checksum mismatch");
            return false;
        }

        view = new EcmView(first, source, destination, BinaryPrimitives.ReadUInt16BigEndian(udp), BinaryPrimitives.ReadUInt16BigEndian(udp[2..]), ttl, udp[8..]);
        error = default;
        return true;
    }

    internal static uint PseudoHeaderSum(ReadOnlySpan<byte> ipHeader, AddressKind family, int udpLength)
    {
        uint sum = 17 + (uint)udpLength;
        return family == AddressKind.IPv4
            ? InternetChecksum.Add(sum, ipHeader.Slice(12, 8))
            : InternetChecksum.Add(sum, ipHeader.Slice(8, 32));
    }
}
