using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>What the Map-Resolver does with requests an independent fuzzer sent (issue: hostile packets and foreign peers).</summary>
public sealed class HostileRequestTests
{
    private readonly MapServer _server;
    private readonly DatagramList _sent = new();

    public HostileRequestTests() => (_server, _) = Engine();

    // A direct Map-Request from 127.10.9.9 whose one record is an LCAF of the given type and body (the fuzzer's ELP, RLE, Geo
    // and AS-number EIDs with lengths their RFC 8060 layout does not allow).
    private static byte[] RequestForLcaf(byte lcafType, string body) => Convert.FromHexString(
        "10000001" + "0000000000000042" + "0000" + "00017f0a0909" + "0020" + "4003" + "0000" + lcafType.ToString("x2", System.Globalization.CultureInfo.InvariantCulture) + "00"
        + (body.Length / 2).ToString("x4", System.Globalization.CultureInfo.InvariantCulture) + body);

    [Theory]
    [InlineData(10, "00")]        // ELP with one byte
    [InlineData(13, "000000")]    // RLE shorter than one entry
    [InlineData(5, "00000000")]   // Geo coordinates cut short
    [InlineData(3, "0000fde8")]   // AS number without its address
    public void A_request_for_a_non_ip_eid_gets_no_reply_and_is_counted(byte lcafType, string body)
    {
        _server.Receive(RequestForLcaf(lcafType, body), Itr, _sent);

        Assert.Empty(_sent.Items); // before: a negative reply echoing the malformed LCAF
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.UnsupportedEid));
        Assert.Equal(0, _server.Counters.NegativeReplies);
    }

    [Fact]
    public void An_ecm_with_a_short_geo_lcaf_source_eid_is_not_forwarded_verbatim()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.0/24", 10, "127.10.1.1")), Dc1Xtr, _sent); // no P bit: requests are forwarded
        _sent.Clear();
        var request = new MapRequest
        {
            Nonce = 9, SourceEid = LispAddress.FromOpaqueLcaf(5, 0, 0, [0, 0, 0, 0]), ItrRlocs = [LispAddress.Parse("127.10.9.9")],
            Records = [EidPrefix.Parse("10.1.0.9/32")],
        };
        var ecm = EncapsulatedControlMessage.Wrap(request, LispAddress.Parse("127.10.9.9"), LispAddress.Parse("10.1.0.9"), 4342).ToArray();

        _server.Receive(ecm, Itr, _sent);

        Assert.Empty(_sent.Items);
        Assert.Equal(0, _server.Counters.Forwarded);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.UnsupportedEid));

        // The same request with an IP source EID is forwarded as before.
        _server.Receive(EncapsulatedControlMessage.Wrap(request with { SourceEid = LispAddress.Parse("10.3.0.1") }, LispAddress.Parse("127.10.9.9"), LispAddress.Parse("10.1.0.9"), 4342).ToArray(), Itr, _sent);
        Assert.Equal(1, _server.Counters.Forwarded);
    }

    [Fact]
    public void A_proxy_reply_clears_the_local_bit_of_every_locator()
    {
        var record = new MappingRecord
        {
            Eid = EidPrefix.Parse("10.1.0.0/24"), Ttl = 10, Authoritative = true,
            Locators = [new Locator(LispAddress.Parse("127.10.1.1"), Local: true), new Locator(LispAddress.Parse("127.10.1.2"), Local: true)],
        };
        _server.Receive((RegisterMessage(1, record) with { ProxyMapReply = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _sent.Clear();

        _server.Receive(Request("10.1.0.9", Itr), Itr, _sent);

        var reply = ReadReply(Assert.Single(_sent.Items));
        Assert.Equal(2, reply.Records[0].Locators.Count);
        Assert.All(reply.Records[0].Locators, l => Assert.False(l.Local));
        Assert.All(_server.ListRegistrations().Single().Rlocs, l => Assert.True(l.Local)); // the registration keeps what the ETR said
    }
}
