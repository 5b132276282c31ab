using FsCheck;
using FsCheck.Fluent;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>FsCheck generators for every address kind, record and message, every flag combination included.</summary>
internal static class Generators
{
    public static readonly Gen<int> Bits = Gen.Choose(0, 0xFFFF);

    public static readonly Gen<byte> U8 = Gen.Choose(0, 255).Select(v => (byte)v);

    public static readonly Gen<ushort> U16 = Gen.Choose(0, 0xFFFF).Select(v => (ushort)v);

    public static readonly Gen<uint> U32 = from a in U16 from b in U16 select ((uint)a << 16) | b;

    public static readonly Gen<ulong> U64 = from a in U32 from b in U32 select ((ulong)a << 32) | b;

    public static readonly Gen<LispAddress> IPv4 = U32.Select(LispAddress.IPv4);

    public static readonly Gen<LispAddress> IPv6 = from h in U64 from l in U64 select LispAddress.IPv6(h, l);

    public static readonly Gen<LispAddress> Ip = Gen.OneOf(IPv4, IPv6);

    /// <summary>An IP address, in a quarter of the cases behind an instance-ID LCAF.</summary>
    public static readonly Gen<LispAddress> IpMaybeIid =
        from a in Ip
        from useIid in Gen.Choose(0, 3)
        from iid in Gen.Choose(0, (int)LispAddress.MaxInstanceId)
        from iidMask in Gen.Frequency((4, Gen.Constant(0)), (1, Gen.Choose(0, 32)))
        select useIid == 0 ? a.WithInstanceId((uint)iid, (byte)iidMask) : a;

    public static readonly Gen<LispAddress> OpaqueLcaf =
        from type in Gen.Choose(3, 255)
        from flags in U8
        from rsvd2 in U8
        from n in Gen.Choose(0, 24)
        from payload in Gen.ArrayOf(U8, n)
        select LispAddress.FromOpaqueLcaf((byte)type, flags, rsvd2, payload);

    public static readonly Gen<LispAddress> AfiList =
        Gen.Choose(1, 3).SelectMany(n => Gen.ArrayOf(Ip, n)).Select(LispAddress.FromAfiList);

    /// <summary>Any address a locator may carry, including the LCAF kinds.</summary>
    public static readonly Gen<LispAddress> LocatorAddress = Gen.Frequency((8, IpMaybeIid), (1, AfiList), (1, OpaqueLcaf));

    public static readonly Gen<EidPrefix> Prefix =
        from a in IpMaybeIid
        from m in Gen.Choose(0, 128)
        select new EidPrefix(a, m % (a.MaxMaskLength + 1));

    public static readonly Gen<Locator> Locator =
        from a in LocatorAddress
        from p in U8 from w in U8 from mp in U8 from mw in U8
        from f in Gen.Choose(0, 7)
        select new Locator(a, p, w, mp, mw, (f & 4) != 0, (f & 2) != 0, (f & 1) != 0);

    public static readonly Gen<MappingRecord> Record =
        from eid in Prefix
        from ttl in Gen.Frequency((3, U32), (1, Gen.Elements(0u, MappingRecord.TtlLocalPolicy)))
        from act in Gen.Choose(0, 7)
        from auth in Gen.Elements(true, false)
        from version in Gen.Choose(0, 0xFFF)
        from locators in Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(Locator, n))
        select new MappingRecord
        {
            Eid = eid, Ttl = ttl, Action = (MapReplyAction)act, Authoritative = auth, MapVersion = (ushort)version, Locators = locators,
        };

    public static readonly Gen<MappingRecord[]> Records = Gen.Choose(0, 3).SelectMany(n => Gen.ArrayOf(Record, n));

    public static readonly Gen<AuthAlgorithm> Algorithm = Gen.Elements(
        AuthAlgorithm.None, AuthAlgorithm.HmacSha1_96, AuthAlgorithm.HmacSha256_128, AuthAlgorithm.HmacSha256_128_HkdfSha256);

    private static readonly Gen<UInt128?> XtrId = Gen.Frequency(
        (1, Gen.Constant<UInt128?>(null)),
        (1, from h in U64 from l in U64 select (UInt128?)new UInt128(h, l)));

    public static readonly Gen<MapRegister> MapRegister =
        from f in Bits
        from nonce in U64
        from key in U8
        from alg in Algorithm
        from records in Records
        from xtr in XtrId
        from site in U64
        select new MapRegister
        {
            ProxyMapReply = (f & 1) != 0, LispSecCapable = (f & 2) != 0, EidNotify = (f & 4) != 0, UseTtlForTimeout = (f & 8) != 0,
            MergeRequest = (f & 16) != 0, FromRtr = (f & 32) != 0, WantMapNotify = (f & 64) != 0, TruncateMac = (f & 128) != 0,
            Nonce = nonce, KeyId = key, Algorithm = alg, Records = records, XtrId = xtr, SiteId = xtr.HasValue ? site : 0,
        };

    public static readonly Gen<MapNotify> MapNotify =
        from r in MapRegister
        select new MapNotify
        {
            Nonce = r.Nonce, KeyId = r.KeyId, Algorithm = r.Algorithm, TruncateMac = r.TruncateMac, Records = r.Records, XtrId = r.XtrId, SiteId = r.SiteId,
        };

    public static readonly Gen<MapNotifyAck> MapNotifyAck = MapNotify.Select(Messages.MapNotifyAck.For);

    public static readonly Gen<MapRequest> MapRequest =
        from f in Bits
        from nonce in U64
        from source in Gen.Frequency((1, Gen.Constant(LispAddress.None)), (3, IpMaybeIid))
        from rlocs in Gen.Frequency((6, Gen.Choose(1, 3)), (1, Gen.Constant(32))).SelectMany(n => Gen.ArrayOf(IpMaybeIid, n))
        from records in Gen.Choose(0, 2).SelectMany(n => Gen.ArrayOf(Prefix, n))
        from reply in Record
        select new MapRequest
        {
            Authoritative = (f & 1) != 0, Probe = (f & 2) != 0, Smr = (f & 4) != 0, Pitr = (f & 8) != 0, SmrInvoked = (f & 16) != 0,
            LocalXtr = (f & 32) != 0, DontMapReply = (f & 64) != 0, Nonce = nonce, SourceEid = source, ItrRlocs = rlocs, Records = records,
            MapReplyRecord = (f & 128) != 0 ? reply : null,
        };

    public static readonly Gen<MapReply> MapReply =
        from f in Gen.Choose(0, 7)
        from nonce in U64
        from records in Records
        select new MapReply { ProbeReply = (f & 1) != 0, EchoNonceCapable = (f & 2) != 0, Security = (f & 4) != 0, Nonce = nonce, Records = records };

    public static readonly Gen<EncapsulatedControlMessage> Ecm =
        from f in Gen.Choose(0, 15)
        from v6 in Gen.Elements(true, false)
        from src in v6 ? IPv6 : IPv4
        from dst in v6 ? IPv6 : IPv4
        from sport in U16
        from dport in U16
        from ttl in U8
        from inner in Gen.OneOf(MapRequest.Select(m => m.ToArray()), Gen.Choose(0, 64).SelectMany(n => Gen.ArrayOf(U8, n)))
        select new EncapsulatedControlMessage
        {
            Security = (f & 8) != 0, DdtOriginated = (f & 4) != 0, ForwardToEtr = (f & 2) != 0, ToMapServer = (f & 1) != 0,
            InnerSource = src, InnerDestination = dst, InnerSourcePort = sport, InnerDestinationPort = dport, InnerTtl = ttl, InnerMessage = inner,
        };

    public static readonly Gen<DataPlaneHeader> DataHeader =
        from f in Gen.Choose(0, 0xFF).Where(v => (v & 0x90) != 0x90)
        from nonce in Gen.Choose(0, 0xFFFFFF)
        from iid in Gen.Choose(0, 0xFFFFFF)
        from lsb in U32
        let hasIid = (f & 0x08) != 0
        select new DataPlaneHeader
        {
            NoncePresent = (f & 0x80) != 0, LocatorStatusBitsEnabled = (f & 0x40) != 0, EchoNonceRequest = (f & 0x20) != 0,
            MapVersionPresent = (f & 0x10) != 0, InstanceIdPresent = hasIid, ReservedBits = (byte)(f & 7), NonceOrMapVersion = (uint)nonce,
            InstanceId = hasIid ? (uint)iid : 0, LocatorStatusBits = hasIid ? lsb & 0xFF : lsb,
        };
}
