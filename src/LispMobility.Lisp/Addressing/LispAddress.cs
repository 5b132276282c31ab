using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LispMobility.Lisp.Wire;

namespace LispMobility.Lisp.Addressing;

/// <summary>
/// An address as LISP carries it: AFI 0, IPv4, IPv6, an LCAF AFI-list, or an opaque LCAF, optionally
/// qualified by an instance ID (LCAF type 2, RFC 8060 §4.1). IP addresses are held inline, so
/// reading one allocates nothing.
/// <code>
/// LCAF:  |   AFI = 16387   | Rsvd1 | Flags |  Type |  Rsvd2 |   Length (16)   | payload ...
/// IID:   Rsvd2 = IID mask-len; payload = Instance ID (32, 24 used) | AFI | address
/// </code>
/// </summary>
public readonly struct LispAddress : IEquatable<LispAddress>
{
    /// <summary>The largest instance ID (24 bits).</summary>
    public const uint MaxInstanceId = 0xFFFFFF;

    private const int MaxLcafDepth = 4;
    private readonly ulong _hi;
    private readonly ulong _lo;
    private readonly object? _payload;

    private LispAddress(AddressKind kind, ulong hi, ulong lo, object? payload, bool hasIid, uint iid, byte iidMaskLength, byte lcafType)
    {
        Kind = kind;
        _hi = hi;
        _lo = lo;
        _payload = payload;
        HasInstanceId = hasIid;
        InstanceId = iid;
        InstanceIdMaskLength = iidMaskLength;
        OpaqueLcafType = lcafType;
    }

    /// <summary>AFI 0: no address.</summary>
    public static LispAddress None => default;

    /// <summary>What the address holds.</summary>
    public AddressKind Kind { get; }

    /// <summary>True when an instance-ID LCAF wraps the address.</summary>
    public bool HasInstanceId { get; }

    /// <summary>The 24-bit instance ID (0 when <see cref="HasInstanceId"/> is false).</summary>
    public uint InstanceId { get; }

    /// <summary>The IID mask-len of the instance-ID LCAF (RFC 8060 §4.1), normally 0.</summary>
    public byte InstanceIdMaskLength { get; }

    /// <summary>The LCAF type of an opaque LCAF.</summary>
    public byte OpaqueLcafType { get; }

    /// <summary>True for IPv4 and IPv6.</summary>
    public bool IsIp => Kind is AddressKind.IPv4 or AddressKind.IPv6;

    /// <summary>The address length in bits: 32 for IPv4, 128 for IPv6, 0 otherwise.</summary>
    public int MaxMaskLength => Kind switch { AddressKind.IPv4 => 32, AddressKind.IPv6 => 128, _ => 0 };

    /// <summary>The addresses of an AFI-list (empty for any other kind).</summary>
    public IReadOnlyList<LispAddress> AfiList => _payload as LispAddress[] ?? [];

    /// <summary>The raw LCAF payload of an opaque LCAF (after the 8-byte LCAF header).</summary>
    public ReadOnlyMemory<byte> OpaqueLcafPayload => _payload as byte[] ?? ReadOnlyMemory<byte>.Empty;

    /// <summary>The flags byte of an opaque LCAF.</summary>
    public byte OpaqueLcafFlags => (byte)(_hi & 0xFF);

    /// <summary>The Rsvd2 byte of an opaque LCAF.</summary>
    public byte OpaqueLcafRsvd2 => (byte)((_hi >> 8) & 0xFF);

    /// <summary>An IPv4 address from its 32-bit value in host order.</summary>
    public static LispAddress IPv4(uint value) => new(AddressKind.IPv4, 0, value, null, false, 0, 0, 0);

    /// <summary>An IPv6 address from its two 64-bit halves in host order.</summary>
    public static LispAddress IPv6(ulong high, ulong low) => new(AddressKind.IPv6, high, low, null, false, 0, 0, 0);

    /// <summary>An LCAF AFI-list.</summary>
    public static LispAddress FromAfiList(IEnumerable<LispAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        return new(AddressKind.AfiList, 0, 0, addresses.ToArray(), false, 0, 0, 0);
    }

    /// <summary>An LCAF this library does not parse, written back as given.</summary>
    public static LispAddress FromOpaqueLcaf(byte type, byte flags, byte rsvd2, ReadOnlySpan<byte> payload) =>
        new(AddressKind.OpaqueLcaf, (ulong)flags | ((ulong)rsvd2 << 8), 0, payload.ToArray(), false, 0, 0, type);

    /// <summary>Converts an <see cref="IPAddress"/>; IPv4-mapped IPv6 stays IPv6.</summary>
    public static LispAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written)) throw new ArgumentException("unreadable address", nameof(address));
        return written == 4
            ? IPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : IPv6(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    /// <summary>Parses "a.b.c.d", "x::y", or either behind an instance ID in Cisco notation: "[1000]10.1.1.1".</summary>
    public static bool TryParse(string? text, out LispAddress address)
    {
        address = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        uint? iid = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 2 || !uint.TryParse(text.AsSpan(1, close - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var v) || v > MaxInstanceId)
            {
                return false;
            }

            iid = v;
            text = text[(close + 1)..];
        }

        if (!IPAddress.TryParse(text, out var ip)) return false;
        if (ip.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)) return false;

        // ScopeId throws for IPv4; a zone index ("fe80::1%eth0") has no meaning on the wire.
        if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0) return false;
        address = FromIPAddress(ip);
        if (iid is { } i) address = address.WithInstanceId(i);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse(string?, out LispAddress)"/> and throws <see cref="FormatException"/> otherwise.</summary>
    public static LispAddress Parse(string text) =>
        TryParse(text, out var a) ? a : throw new FormatException($"'{text}' is not an IPv4/IPv6 address (optionally [iid]-prefixed)");

    /// <summary>The same address with an instance ID (or without one, for null).</summary>
    public LispAddress WithInstanceId(uint? instanceId, byte maskLength = 0)
    {
        if (instanceId is > MaxInstanceId) throw new ArgumentOutOfRangeException(nameof(instanceId), "an instance ID has 24 bits");
        return new(Kind, _hi, _lo, _payload, instanceId.HasValue, instanceId ?? 0, instanceId.HasValue ? maskLength : (byte)0, OpaqueLcafType);
    }

    /// <summary>The IPv4 value in host order.</summary>
    public uint IPv4Value => Kind == AddressKind.IPv4 ? (uint)_lo : throw new InvalidOperationException("not an IPv4 address");

    /// <summary>The upper 64 bits of an IPv6 address.</summary>
    public ulong IPv6High => _hi;

    /// <summary>The lower 64 bits of an IPv6 address.</summary>
    public ulong IPv6Low => _lo;

    /// <summary>The address as an <see cref="IPAddress"/> (IP kinds only).</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        switch (Kind)
        {
            case AddressKind.IPv4:
                BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)_lo);
                return new IPAddress(bytes[..4]);
            case AddressKind.IPv6:
                BinaryPrimitives.WriteUInt64BigEndian(bytes, _hi);
                BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], _lo);
                return new IPAddress(bytes);
            default:
                throw new InvalidOperationException($"a {Kind} address is not an IP address");
        }
    }

    /// <summary>The address with every bit after the first <paramref name="maskLength"/> cleared (IP kinds).</summary>
    public LispAddress Mask(int maskLength)
    {
        if (!IsIp) return this;
        if ((uint)maskLength > (uint)MaxMaskLength) throw new ArgumentOutOfRangeException(nameof(maskLength));
        if (Kind == AddressKind.IPv4)
        {
            var m = maskLength == 0 ? 0u : uint.MaxValue << (32 - maskLength);
            return new(Kind, 0, _lo & m, null, HasInstanceId, InstanceId, InstanceIdMaskLength, 0);
        }

        ulong hm = maskLength >= 64 ? ulong.MaxValue : maskLength == 0 ? 0 : ulong.MaxValue << (64 - maskLength);
        ulong lm = maskLength <= 64 ? 0 : maskLength == 128 ? ulong.MaxValue : ulong.MaxValue << (128 - maskLength);
        return new(Kind, _hi & hm, _lo & lm, null, HasInstanceId, InstanceId, InstanceIdMaskLength, 0);
    }

    /// <summary>True when both are IP addresses of one family and instance ID and share their first <paramref name="maskLength"/> bits.</summary>
    public bool SharesPrefix(LispAddress other, int maskLength) =>
        IsIp && Kind == other.Kind && HasInstanceId == other.HasInstanceId && InstanceId == other.InstanceId &&
        maskLength <= MaxMaskLength && Mask(maskLength).SameBits(other.Mask(maskLength));

    private bool SameBits(LispAddress other) => _hi == other._hi && _lo == other._lo;

    /// <summary>Bytes this address takes on the wire, AFI included.</summary>
    public int GetSerializedLength() => (HasInstanceId ? 8 + 4 : 0) + GetBareLength();

    private int GetBareLength() => Kind switch
    {
        AddressKind.None => 2,
        AddressKind.IPv4 => 2 + 4,
        AddressKind.IPv6 => 2 + 16,
        AddressKind.AfiList => 8 + ((LispAddress[])_payload!).Sum(a => a.GetSerializedLength()),
        AddressKind.OpaqueLcaf => 8 + ((byte[])_payload!).Length,
        _ => throw new InvalidOperationException("unknown address kind"),
    };

    /// <summary>Writes AFI and address; returns the bytes written.</summary>
    public int Write(Span<byte> destination)
    {
        var length = GetSerializedLength();
        WireWriter.EnsureCapacity(destination, length, "address");
        var w = new WireWriter(destination);
        Write(ref w);
        return w.Position;
    }

    internal void Write(ref WireWriter w)
    {
        if (HasInstanceId)
        {
            var bare = GetBareLength();
            if (4 + bare > ushort.MaxValue) throw new InvalidOperationException("LCAF payload longer than 65535 bytes");
            w.U16((ushort)Afi.Lcaf);
            w.U8(0);
            w.U8(0);
            w.U8((byte)LcafType.InstanceId);
            w.U8(InstanceIdMaskLength);
            w.U16((ushort)(4 + bare));
            w.U32(InstanceId);
        }

        switch (Kind)
        {
            case AddressKind.None:
                w.U16((ushort)Afi.None);
                break;
            case AddressKind.IPv4:
                w.U16((ushort)Afi.IPv4);
                w.U32((uint)_lo);
                break;
            case AddressKind.IPv6:
                w.U16((ushort)Afi.IPv6);
                w.U64(_hi);
                w.U64(_lo);
                break;
            case AddressKind.AfiList:
                var list = (LispAddress[])_payload!;
                var len = list.Sum(a => a.GetSerializedLength());
                if (len > ushort.MaxValue) throw new InvalidOperationException("LCAF payload longer than 65535 bytes");
                w.U16((ushort)Afi.Lcaf);
                w.U8(0);
                w.U8(0);
                w.U8((byte)LcafType.AfiList);
                w.U8(0);
                w.U16((ushort)len);
                foreach (var a in list) a.Write(ref w);
                break;
            case AddressKind.OpaqueLcaf:
                var raw = (byte[])_payload!;
                w.U16((ushort)Afi.Lcaf);
                w.U8(0);
                w.U8(OpaqueLcafFlags);
                w.U8(OpaqueLcafType);
                w.U8(OpaqueLcafRsvd2);
                w.U16((ushort)raw.Length);
                w.Bytes(raw);
                break;
        }
    }

    /// <summary>Reads an AFI and address from the start of <paramref name="source"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out LispAddress address, out int consumed, out LispError error)
    {
        var r = new WireReader(source);
        var ok = TryRead(ref r, "AFI", out address);
        consumed = ok ? r.Position : 0;
        error = r.Error;
        return ok;
    }

    internal static bool TryRead(ref WireReader r, string field, out LispAddress address) => TryRead(ref r, field, 0, out address);

    /// <summary>Moves past an address that was already validated, without decoding it.</summary>
    internal static bool TrySkip(ref WireReader r)
    {
        if (!r.TryU16("AFI", out var afi)) return false;
        switch ((Afi)afi)
        {
            case Afi.None: return true;
            case Afi.IPv4: return r.TrySlice(4, "Address", out _);
            case Afi.IPv6: return r.TrySlice(16, "Address", out _);
            case Afi.Lcaf:
                if (!r.TrySlice(4, "LCAF header", out _) || !r.TryU16("LCAF Length", out var length)) return false;
                return r.TrySlice(length, "LCAF payload", out _);
            default:
                return r.Fail(LispError.Unsupported("AFI", r.Position - 2, afi));
        }
    }

    private static bool TryRead(ref WireReader r, string field, int depth, out LispAddress address)
    {
        address = default;
        var afiOffset = r.Position;
        if (!r.TryU16(field, out var afi)) return false;
        switch ((Afi)afi)
        {
            case Afi.None:
                return true;
            case Afi.IPv4:
                if (!r.TryU32(AddressField(field), out var v4)) return false;
                address = IPv4(v4);
                return true;
            case Afi.IPv6:
                if (!r.TryU64(AddressField(field), out var hi) || !r.TryU64(AddressField(field), out var lo)) return false;
                address = IPv6(hi, lo);
                return true;
            case Afi.Lcaf:
                return TryReadLcaf(ref r, afiOffset, depth, out address);
            default:
                // Other AFIs (distinguished names, MAC) have no length we could skip by; say so rather than guess.
                return r.Fail(LispError.Unsupported(field, afiOffset, afi, "only AFI 0, 1, 2 and 16387 (LCAF) are handled"));
        }
    }

    // The name of the address after an AFI field, as a constant: building it by concatenation allocated on every read.
    private static string AddressField(string afiField) => afiField switch
    {
        "EID-Prefix-AFI" => "EID-Prefix",
        "Loc-AFI" => "Locator",
        "Source-EID-AFI" => "Source EID Address",
        "ITR-RLOC-AFI" => "ITR-RLOC Address",
        "IID AFI" => "IID Address",
        "AFI-list AFI" => "AFI-list Address",
        _ => "Address",
    };

    private static bool TryReadLcaf(ref WireReader r, int afiOffset, int depth, out LispAddress address)
    {
        address = default;
        if (depth >= MaxLcafDepth) return r.Fail(LispError.Invalid("LCAF", afiOffset, depth, "LCAFs nested deeper than 4"));
        if (!r.TryU8("LCAF Rsvd1", out _) || !r.TryU8("LCAF Flags", out var flags) || !r.TryU8("LCAF Type", out var type) ||
            !r.TryU8("LCAF Rsvd2", out var rsvd2))
        {
            return false;
        }

        var lengthOffset = r.Position;
        if (!r.TryU16("LCAF Length", out var length)) return false;
        if (length > r.Remaining)
        {
            r.Seek(lengthOffset);
            return r.Fail(LispError.Truncated("LCAF Length", lengthOffset, length + 2));
        }

        var end = r.Position + length;
        switch ((LcafType)type)
        {
            case LcafType.InstanceId:
                if (length < 6) return r.Fail(LispError.Invalid("LCAF Length", lengthOffset, length, "an instance-ID LCAF holds at least 6 bytes"));
                r.TryU32("Instance ID", out var iid);
                if (iid > MaxInstanceId) return r.Fail(LispError.Invalid("Instance ID", r.Position - 4, iid, "an instance ID has 24 bits"));
                var sub = new WireReader(r.Buffer[..end], r.Position);
                if (!TryRead(ref sub, "IID AFI", depth + 1, out var inner)) { r.Error = sub.Error; return false; }
                if (inner.HasInstanceId) return r.Fail(LispError.Invalid("IID AFI", r.Position, afiOffset, "instance ID inside an instance ID"));
                if (sub.Position != end) return r.Fail(LispError.Invalid("LCAF Length", lengthOffset, length, "instance-ID LCAF length does not match its address"));
                r.Seek(end);
                address = inner.WithInstanceId(iid, rsvd2);
                return true;
            case LcafType.AfiList:
                var items = new List<LispAddress>(2);
                var list = new WireReader(r.Buffer[..end], r.Position);
                while (list.Position < end)
                {
                    if (!TryRead(ref list, "AFI-list AFI", depth + 1, out var item)) { r.Error = list.Error; return false; }
                    items.Add(item);
                }

                r.Seek(end);
                address = new LispAddress(AddressKind.AfiList, 0, 0, items.ToArray(), false, 0, 0, 0);
                return true;
            default:
                // RFC 8060 §3: a receiver that does not understand an LCAF type skips it by its length; keep the bytes.
                r.TrySlice(length, "LCAF payload", out var payload);
                address = FromOpaqueLcaf(type, flags, rsvd2, payload);
                return true;
        }
    }

    /// <inheritdoc />
    public bool Equals(LispAddress other)
    {
        if (Kind != other.Kind || HasInstanceId != other.HasInstanceId || InstanceId != other.InstanceId ||
            InstanceIdMaskLength != other.InstanceIdMaskLength || _hi != other._hi || _lo != other._lo || OpaqueLcafType != other.OpaqueLcafType)
        {
            return false;
        }

        return Kind switch
        {
            AddressKind.AfiList => ((LispAddress[])_payload!).AsSpan().SequenceEqual((LispAddress[])other._payload!),
            AddressKind.OpaqueLcaf => ((byte[])_payload!).AsSpan().SequenceEqual((byte[])other._payload!),
            _ => true,
        };
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is LispAddress a && Equals(a);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, InstanceId, _hi, _lo, OpaqueLcafType);

    /// <summary>Equality.</summary>
    public static bool operator ==(LispAddress left, LispAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(LispAddress left, LispAddress right) => !left.Equals(right);

    /// <summary>"10.1.1.1", "[1000]10.1.1.1", "(afi-list 10.0.0.1, 2001:db8::1)", "(lcaf type 5, 12 bytes)", "(no address)".</summary>
    public override string ToString()
    {
        var body = Kind switch
        {
            AddressKind.None => "(no address)",
            AddressKind.IPv4 or AddressKind.IPv6 => ToIPAddress().ToString(),
            AddressKind.AfiList => "(afi-list " + string.Join(", ", AfiList) + ")",
            _ => string.Create(CultureInfo.InvariantCulture, $"(lcaf type {OpaqueLcafType}, {OpaqueLcafPayload.Length} bytes)"),
        };
        return HasInstanceId ? string.Create(CultureInfo.InvariantCulture, $"[{InstanceId}]{body}") : body;
    }
}
