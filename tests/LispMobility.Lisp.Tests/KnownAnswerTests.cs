using System.Buffers.Binary;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.TestSupport.Pcap;

namespace LispMobility.Lisp.Tests;

/// <summary>Byte-exact vectors written by hand from the RFC 9301 / RFC 8060 / RFC 9300 figures: encode gives the hex, decode gives the fields.</summary>
public sealed class KnownAnswerTests
{
    // Type 1, no flags, IRC 0, 1 record | nonce | source EID 10.9.9.9 | ITR-RLOC 192.0.2.2 | rsvd, /32, AFI 1, 10.1.1.7
    internal const string MapRequestHex = "10000001" + "8877665544332211" + "00010a090909" + "0001c0000202" + "0020" + "00010a010107";

    // Type 1 + A M P S = 0x1F | p s = 0xC0 | L D, IRC 1 = 0x61 | 1 record; source AFI 0; two ITR-RLOCs; 10.1.1.0/24; Map-Reply record.
    internal const string MapRequestAllFlagsHex = "1fc06101" + "0000000100000002" + "0000" + "0001c0000202" + "000220010db8000000000000000000000002" +
        "0018" + "00010a010100" + ReplyRecord9Hex;

    // TTL 1440 | 1 locator, /24, A | version 0x123, AFI 1, 10.9.9.0 | p9 w33 mp255 mw0, L+R, AFI 1, 192.0.2.2
    private const string ReplyRecord9Hex = "000005a0" + "01181000" + "01230001" + "0a090900" + "0921ff00" + "00050001" + "c0000202";

    // Type 2 + E | 1 record | nonce | record 10.1.1.0/24 with two locators, the second not reachable.
    internal const string MapReplyHex = "24000001" + "8877665544332211" + "000005a0" + "02181000" + "01230001" + "0a010100" +
        "0532ff00" + "00010001" + "c0000201" + "063cff00" + "00000001" + "c6336401";

    // Negative: TTL 15, no locators, /16, ACT 1 (natively forward).
    internal const string NegativeMapReplyHex = "20000001" + "8877665544332212" + "0000000f" + "00102000" + "00000001" + "0a020000";

    // Type 3 + P S I = 0x3E | reserved | E T a M = 0x1D | 1 record; key 7, alg 2, 32 bytes of MAC (zero before signing).
    internal const string MapRegisterHex = "3e001d01" + "0102030405060708" + "07020020" + ZeroMac32 + Record172Hex + XtrSiteHex;

    internal const string MapNotifyHex = "48000001" + "0102030405060708" + "07020020" + ZeroMac32 + Record172Hex + XtrSiteHex;

    internal const string MapNotifyAckHex = "50000001" + "0102030405060708" + "07020020" + ZeroMac32 + Record172Hex;

    private const string ZeroMac32 = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string Record172Hex = "000005a0" + "01201000" + "01230001" + "ac100417" + "034dff00" + "00050001" + "c000020a";
    private const string XtrSiteHex = "11112222333344445555666677778888" + "abcdef0123456789";

    // Type 8 | IPv4: 20 + 8 + 32 bytes, TTL 64, UDP, checksum, 192.0.2.2 -> 10.1.1.7 | UDP 4342 -> 4342, 40 bytes, checksum | Map-Request.
    internal const string EcmV4Hex = "80000000" + "4500003c" + "00000000" + "4011ada7" + "c0000202" + "0a010107" + "10f610f6" + "0028cb55" + MapRequestHex;

    // Instance-ID LCAF (RFC 8060 §4.1): AFI 16387, rsvd, flags, type 2, IID mask-len 0, length 22, IID 4100, AFI 2, address.
    internal const string IidIpv6RequestHex = "10000001" + "feedfacecafebeef" +
        "4003" + "00000200" + "0016" + "00001004" + "0002" + "20010db800aa00000000000000000001" +
        "0002" + "20010db8000000000000000000000002" +
        "0030" + "4003" + "00000200" + "0016" + "00001004" + "0002" + "20010db800bb00000000000000000000";

    // A /32 record whose locator is an AFI-list LCAF (type 1, length 24) of 192.0.2.1 and 2001:db8::1.
    internal const string AfiListRecordHex = "0000003c" + "01200000" + "00000001" + "0a000001" + "0164ff00" + "0001" +
        "4003" + "00000100" + "0018" + "0001c0000201" + "000220010db8000000000000000000000001";

    // N L I set, nonce 0xABCDEF | IID 4100, LSBs 0x03.
    internal const string DataHeaderHex = "c8abcdef" + "00100403";

    [Fact]
    public void Map_request()
    {
        Assert.Equal(MapRequestHex, Hex(Samples.Request().ToArray()));
        Assert.True(MapRequestView.TryRead(Bytes(MapRequestHex), out var v, out var error), error.ToString());
        Assert.Equal((0x8877665544332211ul, 1, 1), (v.Nonce, v.ItrRlocCount, (int)v.RecordCount));
        Assert.Equal(LispAddress.Parse("10.9.9.9"), v.SourceEid);
        Assert.Equal(EidPrefix.Parse("10.1.1.7/32"), v.FirstRecord);
        Assert.False(v.Smr || v.Probe || v.MapDataPresent || v.Authoritative);
    }

    [Fact]
    public void Map_request_with_every_flag_two_rlocs_and_a_reply_record()
    {
        var request = new MapRequest
        {
            Authoritative = true, Probe = true, Smr = true, Pitr = true, SmrInvoked = true, LocalXtr = true, DontMapReply = true,
            Nonce = 0x0000000100000002, SourceEid = LispAddress.None,
            ItrRlocs = [LispAddress.Parse("192.0.2.2"), LispAddress.Parse("2001:db8::2")],
            Records = [EidPrefix.Parse("10.1.1.0/24")],
            MapReplyRecord = Samples.Record("10.9.9.0/24", "192.0.2.2", 9, 33),
        };
        Assert.Equal(MapRequestAllFlagsHex, Hex(request.ToArray()));
        Assert.True(MapRequest.TryRead(Bytes(MapRequestAllFlagsHex), out var back, out var error), error.ToString());
        Assert.True(back.Authoritative && back.Probe && back.Smr && back.Pitr && back.SmrInvoked && back.LocalXtr && back.DontMapReply);
        Assert.Equal(AddressKind.None, back.SourceEid.Kind);
        Assert.Equal(request.ItrRlocs, back.ItrRlocs);
        Assert.Equal(request.MapReplyRecord, back.MapReplyRecord);
    }

    [Fact]
    public void Each_map_request_flag_sits_at_its_rfc_bit()
    {
        // Bits from the MSB of word 0: A4 M5 P6 S7 p8 s9 L17 D18.
        var base0 = Samples.Request();
        AssertOnlyBit(base0 with { Authoritative = true }, 4);
        AssertOnlyBit(base0 with { Probe = true }, 6);
        AssertOnlyBit(base0 with { Smr = true }, 7);
        AssertOnlyBit(base0 with { Pitr = true }, 8);
        AssertOnlyBit(base0 with { SmrInvoked = true }, 9);
        AssertOnlyBit(base0 with { LocalXtr = true }, 17);
        AssertOnlyBit(base0 with { DontMapReply = true }, 18);
    }

    [Fact]
    public void Each_map_register_flag_sits_at_its_rfc_bit()
    {
        // P4 S5 I6 E19 T20 a21 M23.
        var b = Samples.SimpleRegister() with { WantMapNotify = false };
        AssertOnlyBit(b with { ProxyMapReply = true }, 4);
        AssertOnlyBit(b with { LispSecCapable = true }, 5);
        AssertOnlyBit(b with { EidNotify = true }, 19);
        AssertOnlyBit(b with { UseTtlForTimeout = true }, 20);
        AssertOnlyBit(b with { MergeRequest = true }, 21);
        AssertOnlyBit(b with { WantMapNotify = true }, 23);
        var withXtr = (b with { XtrId = 1 }).ToArray();
        Assert.Equal(1u << (31 - 6), BinaryPrimitives.ReadUInt32BigEndian(withXtr) & 0x0FFFFF00);
    }

    [Fact]
    public void Map_reply_positive_and_negative()
    {
        Assert.Equal(MapReplyHex, Hex(Samples.Reply().ToArray()));
        Assert.Equal(NegativeMapReplyHex, Hex(Samples.NegativeReply().ToArray()));
        Assert.True(MapReply.TryRead(Bytes(MapReplyHex), out var reply, out _));
        Assert.True(reply.EchoNonceCapable);
        var r = Assert.Single(reply.Records);
        Assert.Equal((1440u, true, (ushort)0x123), (r.Ttl, r.Authoritative, r.MapVersion));
        Assert.Equal(new Locator(LispAddress.Parse("198.51.100.1"), 6, 60, 255, 0, false, false, false), r.Locators[1]);
        Assert.True(MapReply.TryRead(Bytes(NegativeMapReplyHex), out var negative, out _));
        Assert.Equal((MapReplyAction.NativelyForward, 15u, 0), (negative.Records[0].Action, negative.Records[0].Ttl, negative.Records[0].Locators.Count));
    }

    [Fact]
    public void Map_register_map_notify_and_ack()
    {
        Assert.Equal(MapRegisterHex, Hex(Samples.Register().ToArray()));
        Assert.Equal(MapNotifyHex, Hex(Samples.Notify().ToArray()));
        Assert.Equal(MapNotifyAckHex, Hex(Samples.NotifyAck().ToArray()));

        Assert.True(MapRegister.TryReadView(Bytes(MapRegisterHex), out var v, out var error), error.ToString());
        Assert.Equal((LispMessageType.MapRegister, 0x0102030405060708ul, (byte)7, AuthAlgorithm.HmacSha256_128, 32),
            (v.Type, v.Nonce, v.KeyId, v.Algorithm, v.AuthenticationLength));
        Assert.Equal(new UInt128(0x1111222233334444, 0x5555666677778888), v.XtrId);
        Assert.Equal(0xABCDEF0123456789ul, v.SiteId);
        var register = MapRegister.FromView(v);
        Assert.True(register.ProxyMapReply && register.LispSecCapable && register.EidNotify && register.UseTtlForTimeout && register.MergeRequest && register.WantMapNotify);
        Assert.False(register.FromRtr);
        Assert.Equal(Samples.Register().Records[0], Assert.Single(register.Records));

        Assert.True(MapNotify.TryRead(Bytes(MapNotifyHex), out var notify, out _));
        Assert.Equal(v.XtrId, notify.XtrId);
        Assert.True(MapNotifyAck.TryRead(Bytes(MapNotifyAckHex), out var ack, out _));
        Assert.Null(ack.XtrId);
    }

    [Fact]
    public void Ecm_with_ipv4_inner_headers()
    {
        Assert.Equal(EcmV4Hex, Hex(Samples.EcmV4().ToArray()));
        Assert.True(EcmView.TryRead(Bytes(EcmV4Hex), out var v, out var error), error.ToString());
        Assert.Equal((LispAddress.Parse("192.0.2.2"), LispAddress.Parse("10.1.1.7"), (ushort)4342, (ushort)4342, (byte)64),
            (v.InnerSource, v.InnerDestination, v.InnerSourcePort, v.InnerDestinationPort, v.InnerTtl));
        Assert.Equal(MapRequestHex, Hex(v.InnerMessage.ToArray()));
    }

    [Fact]
    public void Ecm_with_ipv6_inner_headers_has_a_correct_udp_checksum()
    {
        var ecm = Samples.EcmV6() with { ToMapServer = true, InnerTtl = 255 };
        var bytes = ecm.ToArray();
        var inner = Bytes(IidIpv6RequestHex);
        var udpLength = 8 + inner.Length;
        var expectedPrefix = "81000000" + "60000000" + udpLength.ToString("x4", null) + "11ff" +
            "20010db8000000000000000000000002" + "20010db800bb00000000000000000001" + "ee4810f6" + udpLength.ToString("x4", null);
        Assert.Equal(expectedPrefix, Hex(bytes[..(4 + 40 + 6)]));
        Assert.Equal(IidIpv6RequestHex, Hex(bytes[(4 + 48)..]));

        // Pseudo-header (addresses, length, next header) plus the UDP datagram sums to 0xFFFF when the checksum is right.
        var sum = Checksum.Add(17u + (uint)udpLength, bytes.AsSpan(4 + 8, 32));
        Assert.Equal(0, Checksum.Finish(Checksum.Add(sum, bytes.AsSpan(4 + 40))));
        Assert.True(EcmView.TryRead(bytes, out var v, out var error), error.ToString());
        Assert.True(v.ToMapServer);
        Assert.Equal((ushort)61000, v.InnerSourcePort);
    }

    [Fact]
    public void Instance_id_lcaf_eids()
    {
        Assert.Equal(IidIpv6RequestHex, Hex(Samples.IidIpv6Request().ToArray()));
        Assert.True(MapRequest.TryRead(Bytes(IidIpv6RequestHex), out var request, out var error), error.ToString());
        Assert.Equal(4100u, request.SourceEid.InstanceId);
        Assert.Equal(EidPrefix.Parse("[4100]2001:db8:bb::/48"), request.Records[0]);
        Assert.Equal(4100u, request.Records[0].InstanceId);
    }

    [Fact]
    public void Afi_list_lcaf_locator()
    {
        var record = new MappingRecord
        {
            Eid = EidPrefix.Parse("10.0.0.1/32"), Ttl = 60,
            Locators = [new Locator(LispAddress.FromAfiList([LispAddress.Parse("192.0.2.1"), LispAddress.Parse("2001:db8::1")]))],
        };
        var bytes = new byte[record.GetSerializedLength()];
        record.Write(bytes);
        Assert.Equal(AfiListRecordHex, Hex(bytes));
        Assert.True(MappingRecord.TryRead(bytes, out var back, out _, out var error), error.ToString());
        Assert.Equal([LispAddress.Parse("192.0.2.1"), LispAddress.Parse("2001:db8::1")], back.Locators[0].Address.AfiList);
    }

    [Fact]
    public void Unknown_lcaf_types_are_carried_opaquely()
    {
        // LCAF type 5 (RFC 8060 §4.3, multicast info), flags 0x80, rsvd2 7, three payload bytes.
        var bytes = Bytes("4003" + "00800507" + "0003" + "aabbcc");
        Assert.True(LispAddress.TryRead(bytes, out var address, out var consumed, out var error), error.ToString());
        Assert.Equal((AddressKind.OpaqueLcaf, (byte)5, (byte)0x80, (byte)7, 11), (address.Kind, address.OpaqueLcafType, address.OpaqueLcafFlags, address.OpaqueLcafRsvd2, consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(Bytes("aabbcc"), address.OpaqueLcafPayload.ToArray());
        var written = new byte[address.GetSerializedLength()];
        address.Write(written);
        Assert.Equal(bytes, written);
    }

    [Fact]
    public void Data_plane_header()
    {
        var bytes = new byte[DataPlaneHeader.Length];
        Samples.DataHeader().Write(bytes);
        Assert.Equal(DataHeaderHex, Hex(bytes));
        Assert.True(DataPlaneHeader.TryRead(bytes, out var h, out _));
        Assert.Equal((true, true, false, false, true, 0xABCDEFu, 4100u, 3u),
            (h.NoncePresent, h.LocatorStatusBitsEnabled, h.EchoNonceRequest, h.MapVersionPresent, h.InstanceIdPresent, h.NonceOrMapVersion, h.InstanceId, h.LocatorStatusBits));
        Assert.False(DataPlaneHeader.TryRead(Bytes("98000000" + "00000000"), out _, out var error));
        Assert.Equal(LispErrorKind.Invalid, error.Kind);
    }

    private static void AssertOnlyBit(LispMessage message, int bit)
    {
        var word0 = BinaryPrimitives.ReadUInt32BigEndian(message.ToArray());
        Assert.Equal(1u << (31 - bit), word0 & 0x0FFFFF00 & ~0x1Fu);
    }

    internal static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    internal static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
