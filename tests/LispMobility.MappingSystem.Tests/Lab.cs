using System.Net;
using System.Text;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.MappingSystem.Configuration;
using LispMobility.TestSupport;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// A small lab: two data centers that share the dynamic range 10.200.0.0/16, each with its own /16, and a
/// branch with a fixed /24, one SHA-1 key and an allowed-RLOC list. xTRs are 127.10.x.y addresses.
/// </summary>
internal static class Lab
{
    public const string Dc1Secret = "dc1-secret", Dc2Secret = "dc2-secret", BranchSecret = "branch-secret";

    public static readonly IPEndPoint Dc1Xtr = Xtr("127.10.1.1"), Dc1Xtr2 = Xtr("127.10.1.2"), Dc2Xtr = Xtr("127.10.2.1"), BranchXtr = Xtr("127.10.3.1");
    public static readonly IPEndPoint Itr = Xtr("127.10.9.9");

    public static IPEndPoint Xtr(string address, int port = LispPorts.Control) => new(IPAddress.Parse(address), port);

    public static MapServerOptions Options() => new()
    {
        Listen = ["127.0.0.1:0"],
        Sites =
        [
            new SiteOptions
            {
                Name = "dc1",
                EidPrefixes = [new() { Prefix = "10.1.0.0/16", AcceptMoreSpecifics = true }, new() { Prefix = "10.200.0.0/16", AcceptMoreSpecifics = true }],
                Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = Dc1Secret }, new() { KeyId = 2, Algorithm = AuthAlgorithm.HmacSha256_128_HkdfSha256, Key = "dc1-next" }],
            },
            new SiteOptions
            {
                Name = "dc2",
                EidPrefixes = [new() { Prefix = "10.2.0.0/16", AcceptMoreSpecifics = true }, new() { Prefix = "10.200.0.0/16", AcceptMoreSpecifics = true }],
                Keys = [new() { KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, Key = Dc2Secret }],
            },
            new SiteOptions
            {
                Name = "branch",
                EidPrefixes = [new() { Prefix = "192.168.10.0/24" }, new() { Prefix = "[7]172.16.0.0/16", AcceptMoreSpecifics = true }],
                Keys = [new() { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96, Key = BranchSecret }],
                AllowedRlocs = ["127.10.3.1", "127.10.3.2"],
            },
        ],
    };

    public static byte[] Key(string secret) => Encoding.UTF8.GetBytes(secret);

    public static MappingRecord Record(string eid, uint ttl = 1440, params string[] rlocs) => new()
    {
        Eid = EidPrefix.Parse(eid), Ttl = ttl, Authoritative = true,
        Locators = rlocs.Select(r => new Locator(LispAddress.Parse(r))).ToArray(),
    };

    /// <summary>A signed Map-Register of <paramref name="records"/> with the M bit.</summary>
    public static byte[] Register(ulong nonce, string secret, params MappingRecord[] records) =>
        RegisterMessage(nonce, records).ToSignedArray(Key(secret));

    public static MapRegister RegisterMessage(ulong nonce, params MappingRecord[] records) => new()
    {
        Nonce = nonce, KeyId = 1, Algorithm = AuthAlgorithm.HmacSha256_128, WantMapNotify = true, Records = records,
    };

    /// <summary>A Map-Request for <paramref name="eid"/> from <paramref name="itr"/>, inside an ECM whose inner UDP source port is the ITR's port.</summary>
    public static byte[] Request(string eid, IPEndPoint itr, ulong nonce = 0x1234)
    {
        var request = new MapRequest
        {
            Nonce = nonce, SourceEid = LispAddress.Parse("10.250.0.1"), ItrRlocs = [LispAddress.FromIPAddress(itr.Address)],
            Records = [EidPrefix.Parse(eid.Contains('/', StringComparison.Ordinal) ? eid : eid + "/32")],
        };
        var eidAddress = EidPrefix.Parse(eid.Contains('/', StringComparison.Ordinal) ? eid : eid + "/32").Address.WithInstanceId(null);
        return EncapsulatedControlMessage.Wrap(request, LispAddress.FromIPAddress(itr.Address), eidAddress, (ushort)itr.Port).ToArray();
    }

    /// <summary>An engine on a FakeTimeProvider (from <see cref="TestClock.Start"/>) with predictable nonces.</summary>
    public static (MapServer Server, FakeTimeProvider Time) Engine(MapServerOptions? options = null)
    {
        var time = new FakeTimeProvider(TestClock.Start);
        return (new MapServer(options ?? Options(), time, new CountingNonces()), time);
    }

    public static MapNotify ReadNotify(OutgoingDatagram d)
    {
        Assert.True(MapNotify.TryRead(d.Payload.Span, out var notify, out var error), error.ToString());
        return notify;
    }

    public static MapReply ReadReply(OutgoingDatagram d)
    {
        Assert.True(MapReply.TryRead(d.Payload.Span, out var reply, out var error), error.ToString());
        return reply;
    }

    /// <summary>Nonces 0x1000, 0x1001... so that tests can tell messages apart.</summary>
    private sealed class CountingNonces : NonceSource
    {
        private long _next = 0x1000;

        public override ulong Next() => (ulong)Interlocked.Increment(ref _next);
    }
}
