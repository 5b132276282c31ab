using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// A validated Map-Register, Map-Notify or Map-Notify-Ack inside a received buffer (they share one
/// body, RFC 9301 §5.6–5.7). Reading it allocates nothing; <see cref="MapRegister.TryRead"/> and the
/// others build their heap types from this view.
/// <code>
/// |Type | flags ...                                    | Record Count  |
/// |                         Nonce (64)                                |
/// |    Key ID     | Algorithm ID  |  Authentication Data Length       |
/// ~                     Authentication Data                           ~
/// |                         Records ...                               |
/// |  xTR-ID (128) and Site-ID (64) when the I bit is set              |
/// </code>
/// </summary>
public readonly ref struct AuthenticatedMessageView
{
    internal const int HeaderLength = 16;
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _recordsOffset;
    private readonly int _recordsLength;

    private AuthenticatedMessageView(ReadOnlySpan<byte> bytes, int recordsOffset, int recordsLength, UInt128? xtrId, ulong siteId)
    {
        _bytes = bytes;
        _recordsOffset = recordsOffset;
        _recordsLength = recordsLength;
        XtrId = xtrId;
        SiteId = siteId;
    }

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The message type.</summary>
    public LispMessageType Type => (LispMessageType)(_bytes[0] >> 4);

    /// <summary>The 20 flag bits after the type (bits 4–23 of word 0), right-aligned.</summary>
    public int Flags => ((_bytes[0] & 0x0F) << 16) | (_bytes[1] << 8) | _bytes[2];

    /// <summary>Number of records.</summary>
    public byte RecordCount => _bytes[3];

    /// <summary>The nonce.</summary>
    public ulong Nonce => System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(_bytes[4..]);

    /// <summary>Key ID.</summary>
    public byte KeyId => _bytes[12];

    /// <summary>Algorithm ID.</summary>
    public AuthAlgorithm Algorithm => (AuthAlgorithm)_bytes[13];

    /// <summary>Offset of the authentication data.</summary>
    public int AuthenticationOffset => HeaderLength;

    /// <summary>Declared authentication data length.</summary>
    public int AuthenticationLength => (_bytes[14] << 8) | _bytes[15];

    /// <summary>The authentication data as received.</summary>
    public ReadOnlySpan<byte> AuthenticationData => _bytes.Slice(HeaderLength, AuthenticationLength);

    /// <summary>The xTR-ID, when the I bit is set.</summary>
    public UInt128? XtrId { get; }

    /// <summary>The site-ID, when the I bit is set.</summary>
    public ulong SiteId { get; }

    /// <summary>The records, without allocating.</summary>
    public MappingRecordEnumerator Records => new(_bytes.Slice(_recordsOffset, _recordsLength), RecordCount);

    /// <summary>Checks the MAC with <paramref name="key"/> in constant time.</summary>
    public bool VerifyAuthentication(ReadOnlySpan<byte> key, AuthPurpose purpose) =>
        LispAuthentication.Verify(_bytes, HeaderLength, AuthenticationLength, Algorithm, key, Nonce, purpose);

    /// <summary>Validates a Map-Register/Notify/Notify-Ack; <paramref name="xtrIdBit"/> is the mask of its I bit in <see cref="Flags"/>.</summary>
    internal static bool TryRead(ReadOnlySpan<byte> datagram, LispMessageType expected, int xtrIdBit, out AuthenticatedMessageView view, out LispError error)
    {
        view = default;
        var r = new WireReader(datagram);
        if (!r.TryU8("Type", out var first) || !r.TryU16("Flags", out _) || !r.TryU8("Record Count", out var count) ||
            !r.TryU64("Nonce", out _) || !r.TryU8("Key ID", out _) || !r.TryU8("Algorithm ID", out var algorithm) ||
            !r.TryU16("Authentication Data Length", out var authLength))
        {
            error = r.Error;
            return false;
        }

        if ((LispMessageType)(first >> 4) != expected)
        {
            error = LispError.Invalid("Type", 0, first >> 4, "not a " + expected);
            return false;
        }

        var alg = (AuthAlgorithm)algorithm;
        if (LispAuthentication.IsKnown(alg) && !LispAuthentication.IsAcceptedLength(alg, authLength))
        {
            error = LispError.Invalid("Authentication Data Length", 14, authLength, "neither the full nor the truncated MAC length of the algorithm");
            return false;
        }

        if (!r.TrySlice(authLength, "Authentication Data", out _)) { error = r.Error; return false; }

        var recordsOffset = r.Position;
        for (var i = 0; i < count; i++)
        {
            if (!MappingRecord.TryReadView(ref r, out _)) { error = r.Error.InRecord(i, count); return false; }
        }

        var recordsLength = r.Position - recordsOffset;
        var flags = ((first & 0x0F) << 16) | (datagram[1] << 8) | datagram[2];
        UInt128? xtrId = null;
        ulong siteId = 0;
        if ((flags & xtrIdBit) != 0)
        {
            if (!r.TryU64("xTR-ID", out var hi) || !r.TryU64("xTR-ID", out var lo) || !r.TryU64("Site-ID", out siteId))
            {
                error = r.Error;
                return false;
            }

            xtrId = new UInt128(hi, lo);
        }

        if (r.Remaining != 0)
        {
            error = LispError.Invalid("Message length", r.Position, r.Remaining, "bytes after the last field");
            return false;
        }

        view = new AuthenticatedMessageView(datagram, recordsOffset, recordsLength, xtrId, siteId);
        error = default;
        return true;
    }
}
