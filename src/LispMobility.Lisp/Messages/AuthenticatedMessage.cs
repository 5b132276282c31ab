using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>What Map-Register, Map-Notify and Map-Notify-Ack share: nonce, key, MAC, records, optional xTR-ID/site-ID.</summary>
public abstract record AuthenticatedMessage : LispMessage
{
    /// <summary>The nonce (a Map-Notify echoes the Map-Register's; replay protection compares it).</summary>
    public ulong Nonce { get; init; }

    /// <summary>Key ID: which of the site's keys signed the message.</summary>
    public byte KeyId { get; init; }

    /// <summary>The authentication algorithm.</summary>
    public AuthAlgorithm Algorithm { get; init; } = AuthAlgorithm.HmacSha256_128;

    /// <summary>Write the truncated (96/128-bit) MAC instead of the full one deployed gear expects.</summary>
    public bool TruncateMac { get; init; }

    /// <summary>The authentication data as received (empty on messages built to be signed).</summary>
    public ReadOnlyMemory<byte> AuthenticationData { get; init; }

    /// <summary>The mapping records.</summary>
    public IReadOnlyList<MappingRecord> Records { get; init; } = [];

    /// <summary>xTR-ID (128 bits), written when set.</summary>
    public UInt128? XtrId { get; init; }

    /// <summary>Site-ID (64 bits), written with the xTR-ID.</summary>
    public ulong SiteId { get; init; }

    /// <summary>Which HKDF info string algorithm 3 uses for this message.</summary>
    protected abstract AuthPurpose Purpose { get; }

    /// <summary>Flag bits of word 0 (bits 4–23, right-aligned) for this message, I bit included.</summary>
    protected abstract int FlagBits { get; }

    /// <summary>The bytes of the authentication field.</summary>
    public int AuthenticationLength =>
        AuthenticationData.Length > 0 ? AuthenticationData.Length : LispAuthentication.LengthFor(Algorithm, TruncateMac);

    /// <inheritdoc />
    public override int GetSerializedLength()
    {
        var length = AuthenticatedMessageView.HeaderLength + AuthenticationLength + (XtrId.HasValue ? 24 : 0);
        for (var i = 0; i < Records.Count; i++) length += Records[i].GetSerializedLength();
        return length;
    }

    /// <summary>Writes the message with <see cref="AuthenticationData"/> as it is (zeros when empty).</summary>
    public override int Write(Span<byte> destination)
    {
        var length = GetSerializedLength();
        EnsureCapacity(destination, length, Type);
        if (Records.Count > byte.MaxValue) throw new InvalidOperationException("a message holds at most 255 records");
        var w = new WireWriter(destination);
        var flags = FlagBits;
        w.U8((byte)(((int)Type << 4) | ((flags >> 16) & 0x0F)));
        w.U16((ushort)flags);
        w.U8((byte)Records.Count);
        w.U64(Nonce);
        w.U8(KeyId);
        w.U8((byte)Algorithm);
        w.U16((ushort)AuthenticationLength);
        if (AuthenticationData.Length > 0) w.Bytes(AuthenticationData.Span); else w.Zeros(AuthenticationLength);
        for (var i = 0; i < Records.Count; i++) Records[i].Write(ref w);
        if (XtrId is { } id)
        {
            w.U64((ulong)(id >> 64));
            w.U64((ulong)id);
            w.U64(SiteId);
        }

        return w.Position;
    }

    /// <summary>Writes the message and signs it with <paramref name="key"/>; returns the bytes written.</summary>
    public int WriteSigned(Span<byte> destination, ReadOnlySpan<byte> key)
    {
        // A message built to be signed has no authentication data; copying it only to clear that would allocate per send.
        var unsigned = AuthenticationData.IsEmpty ? this : this with { AuthenticationData = ReadOnlyMemory<byte>.Empty };
        var length = unsigned.Write(destination);
        LispAuthentication.Sign(destination[..length], AuthenticatedMessageView.HeaderLength, unsigned.AuthenticationLength, Algorithm, key, Nonce, Purpose);
        return length;
    }

    /// <summary>Serializes and signs into a new array.</summary>
    public byte[] ToSignedArray(ReadOnlySpan<byte> key)
    {
        var unsigned = AuthenticationData.IsEmpty ? this : this with { AuthenticationData = ReadOnlyMemory<byte>.Empty };
        var bytes = new byte[unsigned.GetSerializedLength()];
        WriteSigned(bytes, key);
        return bytes;
    }

    // Map-Register, Map-Notify and Map-Notify-Ack share their body: one copy from a validated view for all three.
    private protected static T WithBody<T>(T empty, AuthenticatedMessageView v) where T : AuthenticatedMessage =>
        (T)((AuthenticatedMessage)empty with
        {
            Nonce = v.Nonce, KeyId = v.KeyId, Algorithm = v.Algorithm, AuthenticationData = v.AuthenticationData.ToArray(),
            Records = CopyRecords(v), XtrId = v.XtrId, SiteId = v.SiteId,
        });

    private protected static MappingRecord[] CopyRecords(AuthenticatedMessageView view)
    {
        var records = new MappingRecord[view.RecordCount];
        var i = 0;
        foreach (var r in view.Records) records[i++] = r.ToRecord();
        return records;
    }
}
