using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// Map-Reply (type 2, RFC 9301 §5.4): the mapping of the requested EID, or a negative record.
/// <code>
/// |Type=2 |P|E|S|          Reserved               | Record Count  |
/// |                         Nonce (64)                            |
/// |                         Records ...                           |
/// </code>
/// </summary>
public sealed record MapReply : LispMessage
{
    private const int PBit = 1 << 19, EBit = 1 << 18, SBit = 1 << 17;

    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.MapReply;

    /// <summary>P: the reply to an RLOC-probe.</summary>
    public bool ProbeReply { get; init; }

    /// <summary>E: the ETR can echo nonces.</summary>
    public bool EchoNonceCapable { get; init; }

    /// <summary>S: LISP-SEC data follows (carried as a flag only).</summary>
    public bool Security { get; init; }

    /// <summary>The nonce of the Map-Request this answers.</summary>
    public ulong Nonce { get; init; }

    /// <summary>The records.</summary>
    public IReadOnlyList<MappingRecord> Records { get; init; } = [];

    /// <inheritdoc />
    public override int GetSerializedLength()
    {
        var length = 12;
        for (var i = 0; i < Records.Count; i++) length += Records[i].GetSerializedLength();
        return length;
    }

    /// <inheritdoc />
    public override int Write(Span<byte> destination)
    {
        if (Records.Count > byte.MaxValue) throw new InvalidOperationException("a Map-Reply holds at most 255 records");
        EnsureCapacity(destination, GetSerializedLength(), Type);
        var flags = (ProbeReply ? PBit : 0) | (EchoNonceCapable ? EBit : 0) | (Security ? SBit : 0);
        var w = new WireWriter(destination);
        w.U8((byte)(((int)Type << 4) | (flags >> 16)));
        w.U16(0);
        w.U8((byte)Records.Count);
        w.U64(Nonce);
        for (var i = 0; i < Records.Count; i++) Records[i].Write(ref w);
        return w.Position;
    }

    /// <summary>Reads a Map-Reply.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapReply message, out LispError error)
    {
        message = null!;
        var r = new WireReader(datagram);
        if (!r.TryU8("Type", out var first) || !r.TryU16("Flags", out _) || !r.TryU8("Record Count", out var count) || !r.TryU64("Nonce", out var nonce))
        {
            error = r.Error;
            return false;
        }

        if ((LispMessageType)(first >> 4) != LispMessageType.MapReply)
        {
            error = LispError.Invalid("Type", 0, first >> 4, "not a MapReply");
            return false;
        }

        var records = new MappingRecord[count];
        for (var i = 0; i < count; i++)
        {
            if (!MappingRecord.TryReadView(ref r, out var bounds)) { error = r.Error.InRecord(i, count); return false; }
            records[i] = new MappingRecordView(datagram, bounds).ToRecord();
        }

        if (r.Remaining != 0)
        {
            error = LispError.Invalid("Message length", r.Position, r.Remaining, "bytes after the last record");
            return false;
        }

        var flags = (first & 0x0F) << 16;
        message = new MapReply
        {
            ProbeReply = (flags & PBit) != 0, EchoNonceCapable = (flags & EBit) != 0, Security = (flags & SBit) != 0, Nonce = nonce, Records = records,
        };
        error = default;
        return true;
    }
}
