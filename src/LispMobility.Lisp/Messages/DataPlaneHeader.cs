using System.Buffers.Binary;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// The 8-byte LISP data-plane header after the outer UDP header (RFC 9300 §5.3).
/// <code>
/// |N|L|E|V|I|R|K|K|            Nonce/Map-Version                  |
/// |                 Instance ID/Locator-Status-Bits               |
/// </code>
/// With I set, the second word is a 24-bit instance ID and 8 locator-status bits.
/// </summary>
public readonly record struct DataPlaneHeader
{
    /// <summary>Header length.</summary>
    public const int Length = 8;

    /// <summary>N: the nonce field holds a nonce.</summary>
    public bool NoncePresent { get; init; }

    /// <summary>L: the locator-status bits are in use.</summary>
    public bool LocatorStatusBitsEnabled { get; init; }

    /// <summary>E: echo-nonce request.</summary>
    public bool EchoNonceRequest { get; init; }

    /// <summary>V: the nonce field holds source and destination map-versions.</summary>
    public bool MapVersionPresent { get; init; }

    /// <summary>I: the instance ID is present.</summary>
    public bool InstanceIdPresent { get; init; }

    /// <summary>The R and K K bits (reserved / key-id of RFC 8061), kept as received.</summary>
    public byte ReservedBits { get; init; }

    /// <summary>24-bit nonce, or 12-bit source and destination map-versions when V.</summary>
    public uint NonceOrMapVersion { get; init; }

    /// <summary>24-bit instance ID when I.</summary>
    public uint InstanceId { get; init; }

    /// <summary>Locator-status bits: 8 when I, else 32.</summary>
    public uint LocatorStatusBits { get; init; }

    /// <summary>Writes the header.</summary>
    public int Write(Span<byte> destination)
    {
        if (destination.Length < Length) throw new ArgumentException("the data-plane header takes 8 bytes", nameof(destination));
        if (NoncePresent && MapVersionPresent) throw new InvalidOperationException("N and V are mutually exclusive (RFC 9300 §5.3)");
        var flags = (NoncePresent ? 0x80 : 0) | (LocatorStatusBitsEnabled ? 0x40 : 0) | (EchoNonceRequest ? 0x20 : 0) |
                    (MapVersionPresent ? 0x10 : 0) | (InstanceIdPresent ? 0x08 : 0) | (ReservedBits & 0x07);
        BinaryPrimitives.WriteUInt32BigEndian(destination, ((uint)flags << 24) | (NonceOrMapVersion & 0xFFFFFF));
        var second = InstanceIdPresent ? ((InstanceId & 0xFFFFFF) << 8) | (LocatorStatusBits & 0xFF) : LocatorStatusBits;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], second);
        return Length;
    }

    /// <summary>Reads the header.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out DataPlaneHeader header, out LispError error)
    {
        header = default;
        if (source.Length < Length)
        {
            error = LispError.Truncated("LISP data header", source.Length, Length);
            return false;
        }

        var first = BinaryPrimitives.ReadUInt32BigEndian(source);
        var second = BinaryPrimitives.ReadUInt32BigEndian(source[4..]);
        var flags = (byte)(first >> 24);
        if ((flags & 0x80) != 0 && (flags & 0x10) != 0)
        {
            error = LispError.Invalid("N/V flags", 0, flags, "N and V are mutually exclusive (RFC 9300 §5.3)");
            return false;
        }

        var iid = (flags & 0x08) != 0;
        header = new DataPlaneHeader
        {
            NoncePresent = (flags & 0x80) != 0, LocatorStatusBitsEnabled = (flags & 0x40) != 0, EchoNonceRequest = (flags & 0x20) != 0,
            MapVersionPresent = (flags & 0x10) != 0, InstanceIdPresent = iid, ReservedBits = (byte)(flags & 0x07),
            NonceOrMapVersion = first & 0xFFFFFF, InstanceId = iid ? second >> 8 : 0, LocatorStatusBits = iid ? second & 0xFF : second,
        };
        error = default;
        return true;
    }
}
