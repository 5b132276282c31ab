using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Messages;

/// <summary>
/// Map-Request (type 1, RFC 9301 §5.2–5.3). Sent to a Map-Resolver inside an ECM; also an SMR (S bit),
/// an SMR-invoked request (s bit) and an RLOC-probe (P bit).
/// <code>
/// |Type=1 |A|M|P|S|p|s|R|R|R|R|R|R|R|L|D|   IRC   | Record Count  |
/// |                         Nonce (64)                            |
/// |         Source-EID-AFI        |   Source EID Address  ...     |
/// |         ITR-RLOC-AFI 1        |    ITR-RLOC Address 1  ...    |   (IRC + 1 times)
/// |   Reserved    | EID mask-len  |        EID-Prefix-AFI         |   (Record Count times)
/// |                       EID-Prefix  ...                         |
/// |                   Map-Reply Record  ...  (when M)             |
/// </code>
/// </summary>
public sealed record MapRequest : LispMessage
{
    internal const int ABit = 1 << 19, MBit = 1 << 18, PBit = 1 << 17, SBit = 1 << 16, PitrBit = 1 << 15, SmrInvokedBit = 1 << 14, LBit = 1 << 6, DBit = 1 << 5;

    /// <inheritdoc />
    public override LispMessageType Type => LispMessageType.MapRequest;

    /// <summary>A: the requester wants an authoritative answer.</summary>
    public bool Authoritative { get; init; }

    /// <summary>P: an RLOC-probe.</summary>
    public bool Probe { get; init; }

    /// <summary>S: a Solicit-Map-Request.</summary>
    public bool Smr { get; init; }

    /// <summary>p: sent by a PITR.</summary>
    public bool Pitr { get; init; }

    /// <summary>s: an SMR-invoked Map-Request.</summary>
    public bool SmrInvoked { get; init; }

    /// <summary>L: sent by an xTR to another of its own site (local xTR).</summary>
    public bool LocalXtr { get; init; }

    /// <summary>D: do not send a Map-Reply (used with the Map-Server's pub/sub).</summary>
    public bool DontMapReply { get; init; }

    /// <summary>The nonce the Map-Reply echoes.</summary>
    public ulong Nonce { get; init; }

    /// <summary>The source EID (AFI 0 when none).</summary>
    public LispAddress SourceEid { get; init; }

    /// <summary>Where the Map-Reply goes: 1 to 32 RLOCs of the requesting ITR.</summary>
    public IReadOnlyList<LispAddress> ItrRlocs { get; init; } = [];

    /// <summary>The EID-prefixes asked for (RFC 9301: one).</summary>
    public IReadOnlyList<EidPrefix> Records { get; init; } = [];

    /// <summary>The requester's own mapping, cached by the responder (M bit).</summary>
    public MappingRecord? MapReplyRecord { get; init; }

    /// <inheritdoc />
    public override int GetSerializedLength()
    {
        var length = 12 + SourceEid.GetSerializedLength();
        for (var i = 0; i < ItrRlocs.Count; i++) length += ItrRlocs[i].GetSerializedLength();
        for (var i = 0; i < Records.Count; i++) length += 2 + Records[i].Address.GetSerializedLength();
        return length + (MapReplyRecord?.GetSerializedLength() ?? 0);
    }

    /// <inheritdoc />
    public override int Write(Span<byte> destination)
    {
        if (ItrRlocs.Count is < 1 or > 32) throw new InvalidOperationException("a Map-Request carries 1 to 32 ITR-RLOCs");
        if (Records.Count > byte.MaxValue) throw new InvalidOperationException("a Map-Request holds at most 255 records");
        EnsureCapacity(destination, GetSerializedLength(), Type);
        var flags = (Authoritative ? ABit : 0) | (MapReplyRecord is not null ? MBit : 0) | (Probe ? PBit : 0) | (Smr ? SBit : 0) |
                    (Pitr ? PitrBit : 0) | (SmrInvoked ? SmrInvokedBit : 0) | (LocalXtr ? LBit : 0) | (DontMapReply ? DBit : 0) |
                    (ItrRlocs.Count - 1);
        var w = new WireWriter(destination);
        w.U8((byte)(((int)Type << 4) | (flags >> 16)));
        w.U16((ushort)flags);
        w.U8((byte)Records.Count);
        w.U64(Nonce);
        SourceEid.Write(ref w);
        for (var i = 0; i < ItrRlocs.Count; i++) ItrRlocs[i].Write(ref w);
        for (var i = 0; i < Records.Count; i++)
        {
            var record = Records[i];
            w.U8(0);
            w.U8(record.MaskLength);
            record.Address.Write(ref w);
        }

        MapReplyRecord?.Write(ref w);
        return w.Position;
    }

    /// <summary>Reads a Map-Request.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapRequest message, out LispError error)
    {
        message = null!;
        if (!MapRequestView.TryRead(datagram, out var v, out error)) return false;
        message = v.ToMessage();
        return true;
    }
}

/// <summary>A validated Map-Request inside a received buffer; reading it allocates nothing.</summary>
public readonly ref struct MapRequestView
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _rlocsOffset;
    private readonly int _recordsOffset;
    private readonly int _replyOffset;

    private MapRequestView(ReadOnlySpan<byte> bytes, LispAddress sourceEid, int rlocsOffset, int recordsOffset, int replyOffset)
    {
        _bytes = bytes;
        SourceEid = sourceEid;
        _rlocsOffset = rlocsOffset;
        _recordsOffset = recordsOffset;
        _replyOffset = replyOffset;
    }

    private int Flags => ((_bytes[0] & 0x0F) << 16) | (_bytes[1] << 8) | _bytes[2];

    /// <summary>The whole message.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>A bit.</summary>
    public bool Authoritative => (Flags & MapRequest.ABit) != 0;

    /// <summary>M bit: a Map-Reply record follows the EID records.</summary>
    public bool MapDataPresent => (Flags & MapRequest.MBit) != 0;

    /// <summary>P bit.</summary>
    public bool Probe => (Flags & MapRequest.PBit) != 0;

    /// <summary>S bit.</summary>
    public bool Smr => (Flags & MapRequest.SBit) != 0;

    /// <summary>p bit.</summary>
    public bool Pitr => (Flags & MapRequest.PitrBit) != 0;

    /// <summary>s bit.</summary>
    public bool SmrInvoked => (Flags & MapRequest.SmrInvokedBit) != 0;

    /// <summary>L bit.</summary>
    public bool LocalXtr => (Flags & MapRequest.LBit) != 0;

    /// <summary>D bit.</summary>
    public bool DontMapReply => (Flags & MapRequest.DBit) != 0;

    /// <summary>Number of ITR-RLOCs (IRC + 1).</summary>
    public int ItrRlocCount => (Flags & 0x1F) + 1;

    /// <summary>Number of EID records.</summary>
    public byte RecordCount => _bytes[3];

    /// <summary>The nonce.</summary>
    public ulong Nonce => System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(_bytes[4..]);

    /// <summary>The source EID.</summary>
    public LispAddress SourceEid { get; }

    /// <summary>The ITR-RLOCs.</summary>
    public AddressEnumerator ItrRlocs => new(_bytes[_rlocsOffset.._recordsOffset], ItrRlocCount);

    /// <summary>
    /// Where a Map-Reply goes: the first ITR-RLOC of <paramref name="family"/> (the family the request
    /// arrived on, RFC 9301 §5.3), else the first IP one; null when there is none.
    /// </summary>
    public LispAddress? ReplyRloc(AddressKind family)
    {
        LispAddress? fallback = null;
        foreach (var rloc in ItrRlocs)
        {
            var bare = rloc.WithInstanceId(null);
            if (!bare.IsIp) continue;
            if (bare.Kind == family) return bare;
            fallback ??= bare;
        }

        return fallback;
    }

    /// <summary>The address a Map-Reply (or SMR) to a request that arrived from <paramref name="arrivedFrom"/> goes to.</summary>
    public System.Net.IPAddress ReplyAddress(System.Net.IPAddress arrivedFrom)
    {
        ArgumentNullException.ThrowIfNull(arrivedFrom);
        var family = arrivedFrom.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || arrivedFrom.IsIPv4MappedToIPv6 ? AddressKind.IPv4 : AddressKind.IPv6;
        return ReplyRloc(family)?.ToIPAddress() ?? arrivedFrom;
    }

    /// <summary>The requested EID-prefixes.</summary>
    public EidRecordEnumerator Records => new(_bytes[_recordsOffset.._replyOffset], RecordCount);

    /// <summary>The first requested EID-prefix (RFC 9301 sends exactly one).</summary>
    public EidPrefix FirstRecord
    {
        get
        {
            foreach (var p in Records) return p;
            return default;
        }
    }

    /// <summary>The Map-Reply record when <see cref="MapDataPresent"/>, as a heap copy.</summary>
    public MappingRecord? GetMapReplyRecord()
    {
        if (!MapDataPresent) return null;
        var r = new WireReader(_bytes, _replyOffset);
        return MappingRecord.TryReadView(ref r, out var bounds) ? new MappingRecordView(_bytes, bounds).ToRecord() : null;
    }

    /// <summary>A heap copy of the whole message.</summary>
    public MapRequest ToMessage()
    {
        var rlocs = new LispAddress[ItrRlocCount];
        var i = 0;
        foreach (var a in ItrRlocs) rlocs[i++] = a;
        var records = new EidPrefix[RecordCount];
        i = 0;
        foreach (var p in Records) records[i++] = p;
        return new MapRequest
        {
            Authoritative = Authoritative, Probe = Probe, Smr = Smr, Pitr = Pitr, SmrInvoked = SmrInvoked, LocalXtr = LocalXtr,
            DontMapReply = DontMapReply, Nonce = Nonce, SourceEid = SourceEid, ItrRlocs = rlocs, Records = records,
            MapReplyRecord = GetMapReplyRecord(),
        };
    }

    /// <summary>Validates a Map-Request.</summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out MapRequestView view, out LispError error)
    {
        view = default;
        var r = new WireReader(datagram);
        if (!r.TryU8("Type", out var first) || !r.TryU16("Flags", out var low) || !r.TryU8("Record Count", out var count) ||
            !r.TryU64("Nonce", out _) || !LispAddress.TryRead(ref r, "Source-EID-AFI", out var sourceEid))
        {
            error = r.Error;
            return false;
        }

        if ((LispMessageType)(first >> 4) != LispMessageType.MapRequest)
        {
            error = LispError.Invalid("Type", 0, first >> 4, "not a MapRequest");
            return false;
        }

        var flags = ((first & 0x0F) << 16) | low;
        var rlocsOffset = r.Position;
        var rlocCount = (flags & 0x1F) + 1;
        for (var i = 0; i < rlocCount; i++)
        {
            if (!LispAddress.TryRead(ref r, "ITR-RLOC-AFI", out _)) { error = r.Error; return false; }
        }

        var recordsOffset = r.Position;
        for (var i = 0; i < count; i++)
        {
            if (!TryReadEidRecord(ref r, out _)) { error = r.Error.InRecord(i, count); return false; }
        }

        var replyOffset = r.Position;
        if ((flags & MapRequest.MBit) != 0 && !MappingRecord.TryReadView(ref r, out _)) { error = r.Error; return false; }
        if (r.Remaining != 0)
        {
            error = LispError.Invalid("Message length", r.Position, r.Remaining, "bytes after the last field");
            return false;
        }

        view = new MapRequestView(datagram, sourceEid, rlocsOffset, recordsOffset, replyOffset);
        error = default;
        return true;
    }

    internal static bool TryReadEidRecord(ref WireReader r, out EidPrefix prefix)
    {
        prefix = default;
        if (!r.TryU8("EID record Reserved", out _)) return false;
        var maskOffset = r.Position;
        if (!r.TryU8("EID mask-len", out var mask) || !LispAddress.TryRead(ref r, "EID-Prefix-AFI", out var address)) return false;
        if (address.IsIp && mask > address.MaxMaskLength) return r.Fail(LispError.Invalid("EID mask-len", maskOffset, mask, "longer than the address"));
        prefix = new EidPrefix(address, mask);
        return true;
    }

    /// <summary>Enumerates validated addresses.</summary>
    public ref struct AddressEnumerator
    {
        private WireReader _reader;
        private int _left;

        internal AddressEnumerator(ReadOnlySpan<byte> bytes, int count)
        {
            _reader = new WireReader(bytes);
            _left = count;
            Current = default;
        }

        /// <summary>The current address.</summary>
        public LispAddress Current { get; private set; }

        /// <summary>For foreach.</summary>
        public readonly AddressEnumerator GetEnumerator() => this;

        /// <summary>Advances.</summary>
        public bool MoveNext()
        {
            if (_left == 0 || !LispAddress.TryRead(ref _reader, "ITR-RLOC-AFI", out var a)) return false;
            _left--;
            Current = a;
            return true;
        }
    }

    /// <summary>Enumerates validated EID records.</summary>
    public ref struct EidRecordEnumerator
    {
        private WireReader _reader;
        private int _left;

        internal EidRecordEnumerator(ReadOnlySpan<byte> bytes, int count)
        {
            _reader = new WireReader(bytes);
            _left = count;
            Current = default;
        }

        /// <summary>The current prefix.</summary>
        public EidPrefix Current { get; private set; }

        /// <summary>For foreach.</summary>
        public readonly EidRecordEnumerator GetEnumerator() => this;

        /// <summary>Advances.</summary>
        public bool MoveNext()
        {
            if (_left == 0 || !TryReadEidRecord(ref _reader, out var p)) return false;
            _left--;
            Current = p;
            return true;
        }
    }
}
