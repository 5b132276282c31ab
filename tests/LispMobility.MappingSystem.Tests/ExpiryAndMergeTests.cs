using LispMobility.Lisp.Addressing;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>Registration lifetime (3 minutes, T bit, TTL 0) and the merge of several ETRs of one site (a bit).</summary>
public sealed class ExpiryAndMergeTests
{
    private readonly MapServer _server;
    private readonly FakeTimeProvider _time;
    private readonly DatagramList _sent = new();
    private readonly List<MapServerEvent> _events = [];

    public ExpiryAndMergeTests()
    {
        (_server, _time) = Engine();
        _server.EventRaised += (_, e) => _events.Add(e);
    }

    [Fact]
    public void Registration_lapses_three_minutes_after_the_last_valid_register()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Step(TimeSpan.FromMinutes(2));
        _server.Receive(Register(2, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Step(TimeSpan.FromMinutes(2));
        Assert.Equal(1, _server.RegistrationCount); // 4 minutes after the first, 2 after the refresh

        // An invalid refresh (bad MAC) must not extend the lifetime.
        _server.Receive(Register(3, "wrong", Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Step(TimeSpan.FromSeconds(59));
        Assert.Equal(1, _server.RegistrationCount);
        Step(TimeSpan.FromSeconds(1));
        Assert.Equal(0, _server.RegistrationCount);
        Assert.Equal(1, _server.Counters.Expired);
        var gone = Assert.IsType<EidUnregistered>(_events[^1]);
        Assert.True(gone.Expired);
        Assert.Equal(EidPrefix.Parse("10.1.0.5/32"), gone.Eid);
    }

    [Fact]
    public void With_the_t_bit_the_record_ttl_is_the_timeout()
    {
        var register = RegisterMessage(1, Record("10.1.0.5/32", 10, "127.10.1.1")) with { UseTtlForTimeout = true };
        _server.Receive(register.ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(TimeSpan.FromMinutes(10), _server.ListRegistrations()[0].Expires - _time.GetUtcNow());
        Step(TimeSpan.FromMinutes(9));
        Assert.Equal(1, _server.RegistrationCount);
        Step(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _server.RegistrationCount);
    }

    [Fact]
    public void A_shortened_then_extended_lifetime_expires_at_the_last_deadline()
    {
        byte[] Signed(ulong nonce, uint ttl) => (RegisterMessage(nonce, Record("10.1.0.5/32", ttl, "127.10.1.1")) with { UseTtlForTimeout = true }).ToSignedArray(Key(Dc1Secret));
        _server.Receive(Signed(1, 10), Dc1Xtr, _sent); // expires at +10 min
        _server.Receive(Signed(2, 1), Dc1Xtr, _sent); // shortened: +1 min
        Step(TimeSpan.FromSeconds(30));
        _server.Receive(Signed(3, 10), Dc1Xtr, _sent); // extended again: +10.5 min

        Step(TimeSpan.FromMinutes(1)); // +1:30, past the shortened deadline
        Assert.Equal(1, _server.RegistrationCount);
        Step(TimeSpan.FromSeconds(530)); // +10:20, past the first deadline
        Assert.Equal(1, _server.RegistrationCount);
        Step(TimeSpan.FromSeconds(9));
        Assert.Equal(1, _server.RegistrationCount);
        Step(TimeSpan.FromSeconds(1));
        Assert.Equal(0, _server.RegistrationCount);
        Assert.Equal(1, _server.Counters.Expired);
    }

    [Fact]
    public void Without_the_t_bit_a_long_record_ttl_does_not_extend_the_registration()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 600, "127.10.1.1")), Dc1Xtr, _sent);
        Step(TimeSpan.FromMinutes(3));
        Assert.Equal(0, _server.RegistrationCount);
    }

    [Fact]
    public void Ttl_zero_withdraws_at_once()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(2, Dc1Secret, Record("10.1.0.5/32", 0, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Equal(0, _server.RegistrationCount);
        Assert.Equal(1, _server.Counters.Withdrawn);
        Assert.False(Assert.IsType<EidUnregistered>(_events[^1]).Expired);
    }

    [Fact]
    public void Ttl_zero_from_another_etr_does_not_withdraw_someone_elses_registration()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.5/32", 0, "127.10.1.2")), Dc1Xtr2, _sent);
        Assert.Equal(1, _server.RegistrationCount);
    }

    [Fact]
    public void Two_etrs_with_the_merge_bit_are_merged_and_each_lapses_on_its_own()
    {
        _server.Receive((RegisterMessage(1, Record("10.1.0.0/24", 1440, "127.10.1.1")) with { MergeRequest = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Step(TimeSpan.FromMinutes(1));
        _server.Receive((RegisterMessage(1, Record("10.1.0.0/24", 1440, "127.10.1.2")) with { MergeRequest = true }).ToSignedArray(Key(Dc1Secret)), Dc1Xtr2, _sent);

        Assert.Equal(2, _server.ListRegistrations().Count);
        var merged = _server.Lookup(LispAddress.Parse("10.1.0.77"));
        Assert.NotNull(merged);
        Assert.Equal(["127.10.1.1", "127.10.1.2"], merged.Rlocs.Select(l => l.Address.ToString()).Order());
        Assert.Equal(0, _server.Counters.Moves);

        // Each Map-Notify to a merging ETR carries the record it registered.
        Assert.Equal(2, _sent.Items.Count);

        Step(TimeSpan.FromMinutes(2));
        var left = _server.Lookup(LispAddress.Parse("10.1.0.77"));
        Assert.NotNull(left);
        Assert.Equal("127.10.1.2", Assert.Single(left.Rlocs).Address.ToString());
        Step(TimeSpan.FromMinutes(1));
        Assert.Null(_server.Lookup(LispAddress.Parse("10.1.0.77")));
    }

    [Fact]
    public void A_second_etr_without_the_merge_bit_replaces_the_first_and_the_first_is_told()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.0/24", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc1Secret, Record("10.1.0.0/24", 1440, "127.10.1.2")), Dc1Xtr2, _sent);

        Assert.Equal("127.10.1.2", Assert.Single(_server.ListRegistrations()).Rlocs[0].Address.ToString());
        Assert.Equal(1, _server.Counters.Moves);
        Assert.Contains(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1")));
    }

    private void Step(TimeSpan by)
    {
        _time.Advance(by);
        _server.OnTimer(_sent);
    }
}
