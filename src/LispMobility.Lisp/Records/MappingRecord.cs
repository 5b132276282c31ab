using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Records;

/// <summary>
/// A mapping record: an EID-prefix and its locator set (RFC 9301 §5.4), as carried by Map-Reply,
/// Map-Register, Map-Notify and Map-Notify-Ack.
/// <code>
/// |                          Record TTL                           |
/// |  Locator Count | EID mask-len  | ACT |A|      Reserved        |
/// | Rsvd  |  Map-Version Number   |       EID-Prefix-AFI          |
/// |                          EID-Prefix                           |
/// |  Locator ... (Locator Count times)                            |
/// </code>
/// </summary>
public sealed record MappingRecord
{
    /// <summary>TTL value meaning "local policy decides" (RFC 9301 §5.4).</summary>
    public const uint TtlLocalPolicy = 0xFFFFFFFF;

    /// <summary>The EID-prefix the record maps.</summary>
    public required EidPrefix Eid { get; init; }

    /// <summary>Record TTL in minutes; 0 withdraws the mapping.</summary>
    public uint Ttl { get; init; } = 1440;

    /// <summary>ACT: meaningful for negative records (no locators).</summary>
    public MapReplyAction Action { get; init; }

    /// <summary>A: the record comes from an authoritative source.</summary>
    public bool Authoritative { get; init; }

    /// <summary>12-bit map-version number (0 = none).</summary>
    public ushort MapVersion { get; init; }

    /// <summary>The locator set; empty for a negative record.</summary>
    public IReadOnlyList<Locator> Locators { get; init; } = [];

    /// <summary>Bytes on the wire.</summary>
    public int GetSerializedLength()
    {
        var length = 12 + Eid.Address.GetSerializedLength() - 2;
        for (var i = 0; i < Locators.Count; i++) length += Locators[i].GetSerializedLength();
        return length;
    }

    internal void Write(ref WireWriter w)
    {
        if (Locators.Count > byte.MaxValue) throw new InvalidOperationException("a record holds at most 255 locators");
        if (MapVersion > 0xFFF) throw new InvalidOperationException("map-version has 12 bits");
        w.U32(Ttl);
        w.U8((byte)Locators.Count);
        w.U8(Eid.MaskLength);
        w.U16((ushort)((((int)Action & 7) << 13) | (Authoritative ? 1 << 12 : 0)));
        w.U16(MapVersion);
        Eid.Address.Write(ref w);
        for (var i = 0; i < Locators.Count; i++) Locators[i].Write(ref w);
    }

    /// <summary>Writes the record; returns the bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        WireWriter.EnsureCapacity(destination, GetSerializedLength(), "mapping record");
        var w = new WireWriter(destination);
        Write(ref w);
        return w.Position;
    }

    /// <summary>Reads one record from the start of <paramref name="source"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out MappingRecord record, out int consumed, out LispError error)
    {
        var r = new WireReader(source);
        record = null!;
        consumed = 0;
        if (!TryReadView(ref r, out var bounds)) { error = r.Error; return false; }
        record = new MappingRecordView(source, bounds).ToRecord();
        consumed = r.Position;
        error = default;
        return true;
    }

    // A record the message reader already validated: decode the header and EID, step over the locators by their lengths.
    internal static bool TryReadValidated(ref WireReader r, out RecordBounds bounds)
    {
        bounds = default;
        var start = r.Position;
        if (!r.TryU32("Record TTL", out var ttl) || !r.TryU8("Locator Count", out var locatorCount) || !r.TryU8("EID mask-len", out var maskLength) ||
            !r.TryU16("ACT/A", out var actA) || !r.TryU16("Map-Version", out var version) || !LispAddress.TryRead(ref r, "EID-Prefix-AFI", out var eid))
        {
            return false;
        }

        var locatorsStart = r.Position;
        for (var i = 0; i < locatorCount; i++)
        {
            if (!r.TrySlice(6, "Locator", out _) || !LispAddress.TrySkip(ref r)) return false;
        }

        bounds = new RecordBounds(start, locatorsStart, r.Position, ttl, locatorCount, new EidPrefix(eid, maskLength),
            (MapReplyAction)(actA >> 13), (actA & 0x1000) != 0, (ushort)(version & 0xFFF));
        return true;
    }

    // Validates the whole record, locators included, so that a view's enumerators can re-read without checks.
    internal static bool TryReadView(ref WireReader r, out RecordBounds bounds)
    {
        bounds = default;
        var start = r.Position;
        if (!r.TryU32("Record TTL", out var ttl) || !r.TryU8("Locator Count", out var locatorCount)) return false;
        var maskOffset = r.Position;
        if (!r.TryU8("EID mask-len", out var maskLength) || !r.TryU16("ACT/A", out var actA) || !r.TryU16("Map-Version", out var version) ||
            !LispAddress.TryRead(ref r, "EID-Prefix-AFI", out var eid))
        {
            return false;
        }

        if (eid.IsIp && maskLength > eid.MaxMaskLength)
        {
            return r.Fail(LispError.Invalid("EID mask-len", maskOffset, maskLength, "longer than the address"));
        }

        var locatorsStart = r.Position;
        for (var i = 0; i < locatorCount; i++)
        {
            if (!Locator.TryRead(ref r, out _)) return false;
        }

        bounds = new RecordBounds(start, locatorsStart, r.Position, ttl, locatorCount, new EidPrefix(eid, maskLength),
            (MapReplyAction)(actA >> 13), (actA & 0x1000) != 0, (ushort)(version & 0xFFF));
        return true;
    }

    /// <inheritdoc />
    public bool Equals(MappingRecord? other) =>
        other is not null && Eid == other.Eid && Ttl == other.Ttl && Action == other.Action && Authoritative == other.Authoritative &&
        MapVersion == other.MapVersion && Locators.SequenceEqual(other.Locators);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Eid, Ttl, Action, Locators.Count);

    /// <inheritdoc />
    public override string ToString() => Locators.Count == 0
        ? FormattableString.Invariant($"{Eid} negative {Action} ttl {Ttl}")
        : FormattableString.Invariant($"{Eid} ttl {Ttl} -> {string.Join(", ", Locators)}");
}

/// <summary>A validated mapping record inside a received buffer; reading it allocates nothing.</summary>
public readonly ref struct MappingRecordView
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _locatorsOffset;

    internal MappingRecordView(ReadOnlySpan<byte> buffer, RecordBounds b)
    {
        _bytes = buffer[b.Start..b.End];
        _locatorsOffset = b.LocatorsStart - b.Start;
        Ttl = b.Ttl;
        LocatorCount = b.LocatorCount;
        Eid = b.Eid;
        Action = b.Action;
        Authoritative = b.Authoritative;
        MapVersion = b.MapVersion;
    }

    /// <summary>Record TTL in minutes.</summary>
    public uint Ttl { get; }

    /// <summary>Number of locators.</summary>
    public byte LocatorCount { get; }

    /// <summary>The EID-prefix.</summary>
    public EidPrefix Eid { get; }

    /// <summary>ACT.</summary>
    public MapReplyAction Action { get; }

    /// <summary>A bit.</summary>
    public bool Authoritative { get; }

    /// <summary>Map-version number.</summary>
    public ushort MapVersion { get; }

    /// <summary>The record's bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The locators, without allocating.</summary>
    public LocatorEnumerator Locators => new(_bytes[_locatorsOffset..], LocatorCount);

    /// <summary>A heap copy for code that keeps the record.</summary>
    public MappingRecord ToRecord()
    {
        var locators = new Locator[LocatorCount];
        var i = 0;
        foreach (var l in Locators) locators[i++] = l;
        return new MappingRecord { Eid = Eid, Ttl = Ttl, Action = Action, Authoritative = Authoritative, MapVersion = MapVersion, Locators = locators };
    }

    /// <summary>Enumerates the locators of a validated record.</summary>
    public ref struct LocatorEnumerator
    {
        private WireReader _reader;
        private int _left;

        internal LocatorEnumerator(ReadOnlySpan<byte> bytes, int count)
        {
            _reader = new WireReader(bytes);
            _left = count;
            Current = default;
        }

        /// <summary>The current locator.</summary>
        public Locator Current { get; private set; }

        /// <summary>For foreach.</summary>
        public readonly LocatorEnumerator GetEnumerator() => this;

        /// <summary>Advances; the record was validated, so this cannot fail on its bytes.</summary>
        public bool MoveNext()
        {
            if (_left == 0 || !Locator.TryRead(ref _reader, out var l)) return false;
            _left--;
            Current = l;
            return true;
        }
    }
}

/// <summary>Enumerates the validated records of a received message without allocating.</summary>
public ref struct MappingRecordEnumerator
{
    private WireReader _reader;
    private int _left;

    internal MappingRecordEnumerator(ReadOnlySpan<byte> bytes, int count)
    {
        _reader = new WireReader(bytes);
        _left = count;
        Current = default;
    }

    /// <summary>The current record.</summary>
    public MappingRecordView Current { get; private set; }

    /// <summary>For foreach.</summary>
    public readonly MappingRecordEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next record.</summary>
    public bool MoveNext()
    {
        if (_left == 0 || !MappingRecord.TryReadValidated(ref _reader, out var bounds)) return false;
        _left--;
        Current = new MappingRecordView(_reader.Buffer, bounds);
        return true;
    }
}

/// <summary>Where a validated record lies in its buffer, and its header fields.</summary>
internal readonly record struct RecordBounds(
    int Start, int LocatorsStart, int End, uint Ttl, byte LocatorCount, EidPrefix Eid, MapReplyAction Action, bool Authoritative, ushort MapVersion);
