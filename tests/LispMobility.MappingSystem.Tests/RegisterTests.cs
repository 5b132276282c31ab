using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Auth;
using LispMobility.Lisp.Messages;
using LispMobility.Platform;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>Map-Register acceptance (RFC 9301 §8.2): authentication, replay, site prefixes, allowed RLOCs, Map-Notify.</summary>
public sealed class RegisterTests
{
    private readonly MapServer _server;
    private readonly DatagramList _sent = new();

    public RegisterTests() => (_server, _) = Engine();

    [Fact]
    public void Valid_register_is_stored_and_answered_with_a_signed_map_notify_to_4342()
    {
        var register = RegisterMessage(100, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { XtrId = 0xABCD, SiteId = 9 };
        _server.Receive(register.ToSignedArray(Key(Dc1Secret)), Xtr("127.10.1.1", 50000), _sent);

        var row = Assert.Single(_server.ListRegistrations());
        Assert.Equal(EidPrefix.Parse("10.1.0.5/32"), row.Eid);
        Assert.Equal("dc1", row.Site);
        Assert.Equal(LispAddress.Parse("127.10.1.1"), Assert.Single(row.Rlocs).Address);
        Assert.Equal((UInt128)0xABCD, row.XtrId);
        Assert.Equal(Xtr("127.10.1.1", 50000), row.Registrant);
        Assert.Equal(row.LastRegistered + TimeSpan.FromMinutes(3), row.Expires);
        Assert.Equal(1, _server.Counters.RegistersAccepted);

        var d = Assert.Single(_sent.Items);
        Assert.Equal(Xtr("127.10.1.1", 4342), d.Destination);
        Assert.True(MapNotify.TryReadView(d.Payload.Span, out var view, out _));
        Assert.True(view.VerifyAuthentication(Key(Dc1Secret), AuthPurpose.MapNotify));
        var notify = ReadNotify(d);
        Assert.Equal(100ul, notify.Nonce);
        Assert.Equal((UInt128)0xABCD, notify.XtrId);
        Assert.Equal(9ul, notify.SiteId);
        Assert.Equal(EidPrefix.Parse("10.1.0.5/32"), Assert.Single(notify.Records).Eid);
        Assert.Equal(1, _server.Counters.MapNotifiesSent);
    }

    [Fact]
    public void Without_m_bit_no_map_notify_is_sent()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { WantMapNotify = false }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Empty(_sent.Items);
        Assert.Equal(1, _server.RegistrationCount);
    }

    [Fact]
    public void Wrong_key_is_rejected_as_authentication_failure()
    {
        _server.Receive(Register(1, "not-the-key", Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        AssertRejected(RejectReason.AuthenticationFailed);
    }

    [Fact]
    public void Another_sites_key_does_not_register_into_this_site()
    {
        _server.Receive(Register(1, Dc2Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        AssertRejected(RejectReason.AuthenticationFailed);
    }

    [Fact]
    public void Unknown_key_id_is_rejected_as_unknown_key()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { KeyId = 9 }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        AssertRejected(RejectReason.UnknownKey);
    }

    [Fact]
    public void Key_id_with_another_algorithm_than_configured_is_unknown_key()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        AssertRejected(RejectReason.UnknownKey);
    }

    [Fact]
    public void Unauthenticated_register_is_rejected()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { Algorithm = AuthAlgorithm.None }).ToArray(), Dc1Xtr, _sent);
        AssertRejected(RejectReason.NoAuthentication);
    }

    [Fact]
    public void Under_monotonic_replayed_and_older_nonces_are_dropped_and_counted()
    {
        var options = Options() with { Sites = [.. Options().Sites.Select(s => s with { ReplayProtection = Configuration.ReplayProtection.Monotonic })] };
        var (server, _) = Engine(options);
        var record = Record("10.1.0.5/32", 1440, "127.10.1.1");
        var _server = server;
        _server.Receive(Register(10, Dc1Secret, record), Dc1Xtr, _sent);
        _server.Receive(Register(10, Dc1Secret, record), Dc1Xtr, _sent);
        _server.Receive(Register(9, Dc1Secret, record), Dc1Xtr, _sent);
        _server.Receive(Register(11, Dc1Secret, record), Dc1Xtr, _sent);

        Assert.Equal(2, _server.Counters.Rejected(RejectReason.Replay));
        Assert.Equal(2, _server.Counters.RegistersAccepted);
        Assert.Equal([10ul, 11ul], _sent.Items.Select(d => ReadNotify(d).Nonce));
    }

    [Fact]
    public void Nonce_zero_without_m_bit_is_a_replay_unless_the_site_accepts_it()
    {
        var record = Record("10.1.0.5/32", 1440, "127.10.1.1");
        byte[] ZeroNonce() => (RegisterMessage(0, record) with { WantMapNotify = false }).ToSignedArray(Key(Dc1Secret));
        _server.Receive(ZeroNonce(), Dc1Xtr, _sent);
        _server.Receive(ZeroNonce(), Dc1Xtr, _sent);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.Replay));

        var options = Options() with { Sites = [.. Options().Sites.Select(s => s.Name == "dc1" ? s with { AcceptZeroNonce = true } : s)] };
        var (lenient, _) = Engine(options);
        lenient.Receive(ZeroNonce(), Dc1Xtr, _sent);
        lenient.Receive(ZeroNonce(), Dc1Xtr, _sent);
        Assert.Equal(0, lenient.Counters.Rejected(RejectReason.Replay));
        Assert.Equal(2, lenient.Counters.RegistersAccepted);
    }

    [Fact]
    public void Replay_state_is_per_registrant_so_two_etrs_keep_their_own_nonces()
    {
        _server.Receive(Register(10, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(5, Dc1Secret, Record("10.1.0.6/32", 1440, "127.10.1.2")), Dc1Xtr2, _sent);
        Assert.Equal(0, _server.Counters.Rejected(RejectReason.Replay));
        Assert.Equal(2, _server.RegistrationCount);
    }

    [Fact]
    public void Eid_outside_every_site_is_rejected()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.9.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        AssertRejected(RejectReason.NoSite);
    }

    [Fact]
    public void A_later_record_outside_the_authenticated_site_rejects_the_whole_register()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1"), Record("10.2.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        AssertRejected(RejectReason.EidOutsideSite);
    }

    [Fact]
    public void More_specific_is_refused_where_the_site_does_not_accept_them_and_the_exact_prefix_is_accepted()
    {
        var branch = new[] { Record("192.168.10.0/25", 1440, "127.10.3.1") };
        _server.Receive((RegisterMessage(1, branch) with { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(BranchSecret)), BranchXtr, _sent);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.NoSite));

        var exact = new[] { Record("192.168.10.0/24", 1440, "127.10.3.1") };
        _server.Receive((RegisterMessage(2, exact) with { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(BranchSecret)), BranchXtr, _sent);
        Assert.Equal("branch", Assert.Single(_server.ListRegistrations()).Site);
    }

    [Fact]
    public void Rloc_not_in_the_allowed_list_is_refused()
    {
        var records = new[] { Record("192.168.10.0/24", 1440, "127.10.3.1", "127.10.66.6") };
        _server.Receive((RegisterMessage(1, records) with { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(BranchSecret)), BranchXtr, _sent);
        AssertRejected(RejectReason.RlocNotAllowed);
    }

    [Fact]
    public void Instance_id_prefixes_register_inside_their_instance_only()
    {
        var inIid = new[] { Record("[7]172.16.1.1/32", 1440, "127.10.3.2") };
        _server.Receive((RegisterMessage(1, inIid) with { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(BranchSecret)), BranchXtr, _sent);
        Assert.Equal(EidPrefix.Parse("[7]172.16.1.1/32"), Assert.Single(_server.ListRegistrations()).Eid);

        var otherIid = new[] { Record("[8]172.16.1.1/32", 1440, "127.10.3.2") };
        _server.Receive((RegisterMessage(2, otherIid) with { KeyId = 5, Algorithm = AuthAlgorithm.HmacSha1_96 }).ToSignedArray(Key(BranchSecret)), BranchXtr, _sent);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.NoSite));
    }

    [Theory]
    [InlineData(AuthAlgorithm.HmacSha1_96, false)]
    [InlineData(AuthAlgorithm.HmacSha1_96, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128, true)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, false)]
    [InlineData(AuthAlgorithm.HmacSha256_128_HkdfSha256, true)]
    public void Every_algorithm_verifies_with_full_and_truncated_macs_and_the_notify_uses_the_same_form(AuthAlgorithm algorithm, bool truncated)
    {
        var options = Options() with
        {
            Sites = [new() { Name = "s", EidPrefixes = [new() { Prefix = "10.1.0.0/16", AcceptMoreSpecifics = true }], Keys = [new() { KeyId = 3, Algorithm = algorithm, Key = "k" }] }],
        };
        var (server, _) = Engine(options);
        var register = RegisterMessage(7, Record("10.1.2.3/32", 1440, "127.10.1.1")) with { KeyId = 3, Algorithm = algorithm, TruncateMac = truncated };
        var bytes = register.ToSignedArray(Key("k"));
        Assert.True(MapRegister.TryReadView(bytes, out var sent, out _));
        Assert.Equal(LispAuthentication.LengthFor(algorithm, truncated), sent.AuthenticationLength);

        server.Receive(bytes, Dc1Xtr, _sent);

        Assert.Equal(1, server.Counters.RegistersAccepted);
        Assert.True(MapNotify.TryReadView(Assert.Single(_sent.Items).Payload.Span, out var notify, out _));
        Assert.Equal(sent.AuthenticationLength, notify.AuthenticationLength);
        Assert.True(notify.VerifyAuthentication(Key("k"), AuthPurpose.MapNotify));

        // One flipped bit of the MAC, same algorithm and length: refused.
        var tampered = (register with { Nonce = 8 }).ToSignedArray(Key("k"));
        tampered[sent.AuthenticationOffset] ^= 0x01;
        server.Receive(tampered, Dc1Xtr, _sent);
        Assert.Equal(1, server.Counters.Rejected(RejectReason.AuthenticationFailed));
    }

    [Fact]
    public void Rollover_key_of_the_same_site_is_accepted()
    {
        var register = RegisterMessage(1, Record("10.1.0.5/32", 1440, "127.10.1.1")) with { KeyId = 2, Algorithm = AuthAlgorithm.HmacSha256_128_HkdfSha256 };
        _server.Receive(register.ToSignedArray(Key("dc1-next")), Dc1Xtr, _sent);
        Assert.Equal("dc1", Assert.Single(_server.ListRegistrations()).Site);
    }

    [Fact]
    public void Shared_dynamic_range_goes_to_the_site_whose_key_verifies()
    {
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        Assert.Equal("dc2", Assert.Single(_server.ListRegistrations()).Site);
    }

    [Fact]
    public void Hostile_bytes_are_counted_as_malformed_and_never_throw()
    {
        var valid = Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1"));
        var random = new Random(42);
        for (var len = 0; len < valid.Length; len++) _server.Receive(valid.AsSpan(0, len), Dc1Xtr, _sent);
        for (var i = 0; i < 2000; i++)
        {
            var junk = new byte[random.Next(0, 200)];
            random.NextBytes(junk);
            if (junk.Length > 0) junk[0] = (byte)(random.Next(0, 16) << 4 | (junk[0] & 0x0F));
            _server.Receive(junk, Dc1Xtr, _sent);
        }

        Assert.True(_server.Counters.Rejected(RejectReason.Malformed) > valid.Length / 2);
        Assert.Equal(0, _server.RegistrationCount);
        _server.Receive(Register(2, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Equal(1, _server.RegistrationCount);
    }

    private void AssertRejected(RejectReason reason)
    {
        Assert.Equal(1, _server.Counters.Rejected(reason));
        Assert.Equal(0, _server.Counters.RegistersAccepted);
        Assert.Equal(0, _server.RegistrationCount);
        Assert.Empty(_sent.Items);
    }
}
