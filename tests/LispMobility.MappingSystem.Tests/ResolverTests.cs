using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Lisp.Records;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>Map-Resolver (RFC 9301 §8.3): proxy replies, forwarding to ETRs, negative replies, rate limiting.</summary>
public sealed class ResolverTests
{
    private static readonly System.Net.IPEndPoint ItrPort = Xtr("127.10.9.9", 40001);
    private readonly MapServer _server;
    private readonly FakeTimeProvider _time;
    private readonly DatagramList _sent = new();

    public ResolverTests() => (_server, _time) = Engine();

    [Fact]
    public void Unregistered_address_inside_a_site_gets_send_map_request_for_one_minute()
    {
        _server.Receive(Request("10.1.0.99", ItrPort, nonce: 77), ItrPort, _sent);
        var d = Assert.Single(_sent.Items);
        Assert.Equal(ItrPort, d.Destination);
        var reply = ReadReply(d);
        Assert.Equal(77ul, reply.Nonce);
        var r = Assert.Single(reply.Records);
        Assert.Equal(EidPrefix.Parse("10.1.0.99/32"), r.Eid);
        Assert.Equal(MapReplyAction.SendMapRequest, r.Action);
        Assert.Equal(1u, r.Ttl);
        Assert.Empty(r.Locators);
        Assert.Equal(1, _server.Counters.NegativeReplies);
    }

    [Theory]
    [InlineData("10.9.1.2", "10.8.0.0/13")] // 10.0/12 would cover 10.1/16 and 10.2/16
    [InlineData("8.8.8.8", "8.0.0.0/7")] // 8.0/6 would cover 10/8
    [InlineData("10.200.255.1/32", "10.200.0.0/16")] // inside a site: the site's rules, not this row
    [InlineData("192.168.11.1", "192.168.11.0/24")]
    [InlineData("[8]172.16.0.1", "[8]0.0.0.0/0")] // no EID-prefix at all in instance 8
    [InlineData("[7]172.17.0.1", "[7]172.17.0.0/16")]
    public void Address_outside_every_site_gets_natively_forward_for_the_largest_non_eid_prefix_for_15_minutes(string address, string expected)
    {
        _server.Receive(Request(address, ItrPort), ItrPort, _sent);
        var r = Assert.Single(ReadReply(Assert.Single(_sent.Items)).Records);
        if (expected == "10.200.0.0/16")
        {
            Assert.Equal(MapReplyAction.SendMapRequest, r.Action);
            return;
        }

        Assert.Equal(EidPrefix.Parse(expected), r.Eid);
        Assert.Equal(MapReplyAction.NativelyForward, r.Action);
        Assert.Equal(15u, r.Ttl);
        Assert.Empty(r.Locators);
    }

    [Fact]
    public void Registered_without_p_bit_the_ecm_is_forwarded_to_the_etr_with_the_e_bit_and_the_inner_request_intact()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();
        var ecm = Request("10.1.0.5", ItrPort, nonce: 99);
        _server.Receive(ecm, ItrPort, _sent);

        var d = Assert.Single(_sent.Items);
        Assert.Equal(Xtr("127.10.1.1", LispPorts.Control), d.Destination);
        Assert.True(EcmView.TryRead(d.Payload.Span, out var forwarded, out _));
        Assert.True(forwarded.ForwardToEtr);
        Assert.True(EcmView.TryRead(ecm, out var original, out _));
        Assert.True(original.InnerMessage.SequenceEqual(forwarded.InnerMessage));
        Assert.Equal((ushort)ItrPort.Port, forwarded.InnerSourcePort);
        Assert.Equal(1, _server.Counters.Forwarded);
    }

    [Fact]
    public void Forwarding_round_robins_among_the_merged_etrs()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.0/24", 1440, "127.10.1.1")) with { MergeRequest = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _server.Receive((RegisterMessage(1, Record("10.1.0.0/24", 1440, "127.10.1.2")) with { MergeRequest = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr2, _sent);
        _sent.Clear();
        for (var i = 0; i < 4; i++) _server.Receive(Request("10.1.0.9", ItrPort, (ulong)i), ItrPort, _sent);

        var targets = _sent.Items.Select(d => d.Destination.Address.ToString()).ToList();
        Assert.Equal(2, targets.Count(t => t == "127.10.1.1"));
        Assert.Equal(2, targets.Count(t => t == "127.10.1.2"));
        Assert.NotEqual(targets[0], targets[1]);
    }

    [Fact]
    public void Registered_with_p_bit_the_map_server_answers_to_the_inner_source_port()
    {
        var register = RegisterMessage(1, Record("10.1.0.0/24", 10, "127.10.1.1", "127.10.1.2")) with { ProxyMapReply = true };
        _server.Receive(register.ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Request("10.1.0.9", ItrPort, nonce: 5), Xtr("127.10.9.9", 4342), _sent);

        var d = Assert.Single(_sent.Items);
        Assert.Equal(ItrPort, d.Destination);
        var reply = ReadReply(d);
        Assert.Equal(5ul, reply.Nonce);
        var r = Assert.Single(reply.Records);
        Assert.Equal(EidPrefix.Parse("10.1.0.0/24"), r.Eid);
        Assert.Equal(10u, r.Ttl);
        Assert.Equal(["127.10.1.1", "127.10.1.2"], r.Locators.Select(l => l.Address.ToString()));
        Assert.Equal(1, _server.Counters.ProxyReplies);
    }

    [Fact]
    public void Longest_prefix_match_picks_the_host_route_over_the_covering_prefix()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.0/16", 1440, "127.10.1.1")) with { ProxyMapReply = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _server.Receive((RegisterMessage(2, Record("10.1.7.7/32", 1440, "127.10.1.1", "127.10.1.2")) with { ProxyMapReply = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Request("10.1.7.7", ItrPort), ItrPort, _sent);
        _server.Receive(Request("10.1.7.8", ItrPort), ItrPort, _sent);
        Assert.Equal(EidPrefix.Parse("10.1.7.7/32"), ReadReply(_sent.Items[0]).Records[0].Eid);
        Assert.Equal(EidPrefix.Parse("10.1.0.0/16"), ReadReply(_sent.Items[1]).Records[0].Eid);
    }

    [Fact]
    public void Flood_from_one_requester_is_cut_to_its_burst_and_rate_while_another_requester_is_served()
    {
        var flooder = Xtr("127.10.66.6", 40000);
        for (var i = 0; i < 1000; i++) _server.Receive(Request("10.9.0.1", flooder, (ulong)i), flooder, _sent);
        Assert.Equal(200, _sent.Items.Count);
        Assert.Equal(800, _server.Counters.Rejected(RejectReason.RateLimited));

        _server.Receive(Request("10.9.0.1", ItrPort), ItrPort, _sent);
        Assert.Equal(ItrPort, _sent.Items[^1].Destination);

        _time.Advance(TimeSpan.FromSeconds(1));
        _sent.Clear();
        for (var i = 0; i < 1000; i++) _server.Receive(Request("10.9.0.1", flooder, (ulong)i), flooder, _sent);
        Assert.Equal(100, _sent.Items.Count);
        Assert.Equal(200, _server.Counters.MapRequests - 101);
    }

    [Fact]
    public void A_registered_etr_verifying_a_dr_failover_gets_the_registered_rate_until_its_registrations_are_gone()
    {
        var dc1 = Xtr("127.10.1.1", 40000); // the ITR port of DC1's xTR, whose address holds registrations
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();

        for (var i = 0; i < 5000; i++) _server.Receive(Request("10.1.0.1", dc1, (ulong)i), dc1, _sent);

        Assert.Equal(5000, _sent.Items.Count);
        Assert.Equal(0, _server.Counters.Rejected(RejectReason.RateLimited));

        // Withdrawn: the address is a requester like any other again.
        _server.Receive(Register(2, Dc1Secret, Record("10.1.0.0/16", 0)), Dc1Xtr, _sent);
        _sent.Clear();
        for (var i = 0; i < 1000; i++) _server.Receive(Request("10.1.0.1", dc1, (ulong)i), dc1, _sent);
        Assert.Equal(200, _sent.Items.Count);
        Assert.Equal(800, _server.Counters.Rejected(RejectReason.RateLimited));
    }

    [Fact]
    public void Smr_sent_to_the_map_resolver_is_refused()
    {
        var smr = new MapRequest { Smr = true, Nonce = 1, SourceEid = LispAddress.Parse("10.1.0.5"), ItrRlocs = [LispAddress.Parse("127.10.9.9")], Records = [EidPrefix.Parse("10.1.0.5/32")] };
        _server.Receive(smr.ToArray(), ItrPort, _sent);
        Assert.Empty(_sent.Items);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.UnexpectedType));
    }
}
