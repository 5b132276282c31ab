using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>One message of every kind the product sends, with distinctive field values tests can look for.</summary>
internal static class Samples
{
    public static readonly byte[] Key = "lisp-site-key"u8.ToArray();

    public static LispAddress V4(string text) => LispAddress.Parse(text);

    public static MappingRecord Record(string eid, string rloc, byte priority = 1, byte weight = 100) => new()
    {
        Eid = EidPrefix.Parse(eid),
        Ttl = 1440,
        Authoritative = true,
        MapVersion = 0x123,
        Locators = [new Locator(LispAddress.Parse(rloc), priority, weight, 255, 0, Local: true, Probed: false, Reachable: true)],
    };

    public static MapRegister Register(AuthAlgorithm algorithm = AuthAlgorithm.HmacSha256_128) => new()
    {
        ProxyMapReply = true, LispSecCapable = true, EidNotify = true, UseTtlForTimeout = true, MergeRequest = true, WantMapNotify = true,
        Nonce = 0x0102030405060708, KeyId = 7, Algorithm = algorithm,
        Records = [Record("172.16.4.23/32", "192.0.2.10", priority: 3, weight: 77)],
        XtrId = new UInt128(0x1111222233334444, 0x5555666677778888), SiteId = 0xABCDEF0123456789,
    };

    public static MapRegister SimpleRegister() => new()
    {
        WantMapNotify = true, Nonce = 0x1122334455667788, KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128,
        Records = [Record("10.1.1.0/24", "192.0.2.1")],
    };

    public static MapRequest Request() => new()
    {
        Nonce = 0x8877665544332211, SourceEid = V4("10.9.9.9"), ItrRlocs = [V4("192.0.2.2")], Records = [EidPrefix.Parse("10.1.1.7/32")],
    };

    public static MapRequest Smr() => Request() with { Smr = true, Authoritative = true, Nonce = 0x5A5A5A5A00000001 };

    public static MapRequest RequestWithReplyRecord() => Request() with
    {
        Nonce = 0x0000000100000002, Probe = true, SmrInvoked = true, Pitr = true, LocalXtr = true, DontMapReply = true,
        ItrRlocs = [V4("192.0.2.2"), LispAddress.Parse("2001:db8::2")],
        MapReplyRecord = Record("10.9.9.0/24", "192.0.2.2", priority: 9, weight: 33),
    };

    public static MapRequest IidIpv6Request() => new()
    {
        Nonce = 0xFEEDFACECAFEBEEF, SourceEid = LispAddress.Parse("[4100]2001:db8:aa::1"), ItrRlocs = [LispAddress.Parse("2001:db8::2")],
        Records = [EidPrefix.Parse("[4100]2001:db8:bb::/48")],
    };

    public static EncapsulatedControlMessage EcmV4() =>
        EncapsulatedControlMessage.Wrap(Request(), V4("192.0.2.2"), V4("10.1.1.7")) with { ToMapServer = false };

    public static EncapsulatedControlMessage EcmV6() =>
        EncapsulatedControlMessage.Wrap(IidIpv6Request(), LispAddress.Parse("2001:db8::2"), LispAddress.Parse("2001:db8:bb::1"), 61000);

    public static MapReply Reply() => new()
    {
        EchoNonceCapable = true, Nonce = 0x8877665544332211,
        Records = [Record("10.1.1.0/24", "192.0.2.1", priority: 5, weight: 50) with
        {
            Locators = [new Locator(V4("192.0.2.1"), 5, 50), new Locator(V4("198.51.100.1"), 6, 60, Reachable: false)],
        }],
    };

    public static MapReply NegativeReply() => new()
    {
        Nonce = 0x8877665544332212,
        Records = [new MappingRecord { Eid = EidPrefix.Parse("10.2.0.0/16"), Ttl = 15, Action = MapReplyAction.NativelyForward }],
    };

    public static MapReply Ipv6IidReply() => new()
    {
        ProbeReply = true, Nonce = 42,
        Records = [new MappingRecord
        {
            Eid = EidPrefix.Parse("[4100]2001:db8:bb::/48"), Ttl = 60, Authoritative = true,
            Locators = [new Locator(LispAddress.Parse("2001:db8::10"), 2, 40)],
        }],
    };

    public static MapNotify Notify() => new()
    {
        Nonce = 0x0102030405060708, KeyId = 7, Algorithm = AuthAlgorithm.HmacSha256_128,
        Records = [Record("172.16.4.23/32", "192.0.2.10", priority: 3, weight: 77)],
        XtrId = new UInt128(0x1111222233334444, 0x5555666677778888), SiteId = 0xABCDEF0123456789,
    };

    public static MapNotifyAck NotifyAck() => MapNotifyAck.For(Notify() with { XtrId = null, SiteId = 0 });

    public static DataPlaneHeader DataHeader() => new()
    {
        NoncePresent = true, LocatorStatusBitsEnabled = true, InstanceIdPresent = true, NonceOrMapVersion = 0xABCDEF, InstanceId = 4100, LocatorStatusBits = 0x03,
    };
}
