using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// The move flow: a VM's /32 appears under another site; the previous registrant gets an unsolicited
/// Map-Notify, retransmitted 3 s, 3 s, 3 s, 6, 12, 24 until a correctly signed Map-Notify-Ack arrives,
/// and the ITRs that asked for the EID get an SMR, at most one per 3 s.
/// </summary>
public sealed class MoveTests
{
    private readonly MapServer _server;
    private readonly FakeTimeProvider _time;
    private readonly DatagramList _sent = new();
    private readonly List<MapServerEvent> _events = [];

    public MoveTests()
    {
        (_server, _time) = Engine();
        _server.EventRaised += (_, e) => _events.Add(e);
    }

    [Fact]
    public void Vm_moving_to_dc2_makes_dc1_get_a_map_notify_with_the_new_rlocs_signed_with_dc1s_key()
    {
        var notify = MoveVm();

        Assert.True(MapNotify.TryReadView(notify.Payload.Span, out var view, out _));
        Assert.True(view.VerifyAuthentication(Key(Dc1Secret), Lisp.Auth.AuthPurpose.MapNotify));
        var message = ReadNotify(notify);
        var record = Assert.Single(message.Records);
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), record.Eid);
        Assert.Equal("127.10.2.1", Assert.Single(record.Locators).Address.ToString());

        var moved = Assert.Single(_events.OfType<EidMoved>());
        Assert.Equal(("dc1", "dc2"), (moved.FromSite, moved.ToSite));
        Assert.Equal([Xtr("127.10.1.1")], moved.NotifiedRegistrants);
        Assert.Equal("dc2", Assert.Single(_server.ListRegistrations()).Site);
        Assert.Equal(1, _server.Counters.Moves);
        Assert.Equal(1, _server.Counters.UnsolicitedNotifiesSent);
        Assert.Equal(1, _server.PendingNotifyCount);
    }

    [Fact]
    public void Unanswered_notify_is_retransmitted_3_3_3_6_12_24_then_given_up()
    {
        var first = MoveVm();
        _sent.Clear();
        var sentAt = new List<double>();
        for (var s = 1; s <= 120; s++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            _server.OnTimer(_sent);
            foreach (var d in _sent.Items)
            {
                Assert.Equal(first.Destination, d.Destination);
                Assert.True(d.Payload.Span.SequenceEqual(first.Payload.Span));
                sentAt.Add(s);
            }

            _sent.Clear();
        }

        Assert.Equal([3.0, 6, 9, 15, 27, 51], sentAt);
        Assert.Equal(6, _server.Counters.NotifyRetransmits);
        Assert.Equal(1, _server.Counters.NotifyGiveUps);
        Assert.Equal(0, _server.PendingNotifyCount);
        var gaveUp = Assert.Single(_events.OfType<MoveNotifyGaveUp>());
        Assert.Equal(7, gaveUp.Transmissions);
    }

    [Fact]
    public void Correctly_signed_ack_stops_retransmission_and_a_badly_signed_one_does_not()
    {
        var notify = ReadNotify(MoveVm());
        _sent.Clear();
        Advance(3);
        Assert.Single(_sent.Items);

        var ack = MapNotifyAck.For(notify);
        _server.Receive(ack.ToSignedArray(Key("wrong")), Dc1Xtr, _sent);
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.UnmatchedNotifyAck));
        Assert.Equal(1, _server.PendingNotifyCount);
        Advance(3);
        Assert.Equal(2, _sent.Items.Count);

        _server.Receive(ack.ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(0, _server.PendingNotifyCount);
        Assert.Equal(1, _server.Counters.NotifyAcks);
        Assert.Equal(3, Assert.Single(_events.OfType<MoveNotifyAcknowledged>()).Transmissions);
        Advance(100);
        Assert.Equal(2, _sent.Items.Count);

        // The same ack again matches nothing.
        _server.Receive(ack.ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(2, _server.Counters.Rejected(RejectReason.UnmatchedNotifyAck));
    }

    [Fact]
    public void Host_route_under_a_covering_prefix_of_another_site_notifies_the_covering_registrant()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc2Secret, Record("10.200.3.3/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);

        var unsolicited = Assert.Single(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1")));
        Assert.Equal(EidPrefix.Parse("10.200.3.3/32"), Assert.Single(ReadNotify(unsolicited).Records).Eid);
        Assert.Equal(2, _server.RegistrationCount);
        Assert.Equal("dc2", _server.Lookup(LispAddress.Parse("10.200.3.3"))!.Site);
        Assert.Equal("dc1", _server.Lookup(LispAddress.Parse("10.200.3.4"))!.Site);
    }

    [Fact]
    public void Many_hosts_moved_by_one_map_register_reach_the_previous_registrant_in_few_map_notifies_each_acked_once()
    {
        var hosts = Enumerable.Range(1, 60).Select(i => $"10.200.1.{i}/32").ToArray();
        _server.Receive(Register(1, Dc1Secret, hosts.Select(h => Record(h, 1440, "127.10.1.1")).ToArray()), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc2Secret, hosts.Select(h => Record(h, 1440, "127.10.2.1")).ToArray()), Dc2Xtr, _sent);

        var unsolicited = _sent.Items.Where(d => d.Destination.Equals(Xtr("127.10.1.1"))).ToList();
        // 60 records of 28 bytes do not fit one 1,200-byte notify: two, with every host once.
        Assert.Equal(2, unsolicited.Count);
        Assert.All(unsolicited, d => Assert.True(d.Payload.Length <= 1500, $"Map-Notify of {d.Payload.Length} bytes"));
        var notifies = unsolicited.Select(ReadNotify).ToList();
        Assert.Equal(hosts.Order(), notifies.SelectMany(n => n.Records).Select(r => r.Eid.ToString()).Order());
        Assert.All(notifies.SelectMany(n => n.Records), r => Assert.Equal("127.10.2.1", Assert.Single(r.Locators).Address.ToString()));
        Assert.Equal(60, _server.Counters.Moves);
        Assert.Equal(60, _events.OfType<EidMoved>().Count());
        Assert.Equal(2, _server.PendingNotifyCount);

        foreach (var n in notifies) _server.Receive(MapNotifyAck.For(n).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(0, _server.PendingNotifyCount);
        Assert.Equal(hosts.Order(), _events.OfType<MoveNotifyAcknowledged>().Select(a => a.Eid.ToString()).Order());
    }

    [Fact]
    public void When_a_moved_host_route_is_withdrawn_or_expires_the_sites_holding_it_away_are_told_it_is_gone()
    {
        var notify = ReadNotify(MoveVm());
        _server.Receive(MapNotifyAck.For(notify).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _sent.Clear();

        _server.Receive(Register(2, Dc2Secret, Record("10.200.0.7/32", 0)), Dc2Xtr, _sent); // dc2 withdraws it

        var gone = ReadNotify(Assert.Single(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1"))));
        var record = Assert.Single(gone.Records);
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), 0u, 0), (record.Eid, record.Ttl, record.Locators.Count));
        Assert.Equal(1, _server.PendingNotifyCount); // retransmitted until dc1 acknowledges, like a move
        _server.Receive(MapNotifyAck.For(gone).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        Assert.Equal(0, _server.PendingNotifyCount);

        // Expiry too: moved again, then never refreshed.
        _server.Receive(Register(3, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent); // no one to tell: dc1 held none
        Assert.Equal(0, _server.PendingNotifyCount);
        _sent.Clear();
        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        var toDc2 = ReadNotify(Assert.Single(_sent.Items, d => d.Destination.Equals(Xtr("127.10.2.1")) && ReadNotify(d).Nonce != 2));
        _server.Receive(MapNotifyAck.For(toDc2).ToSignedArray(Key(Dc2Secret)), Dc2Xtr, _sent); // dc2 knows it lost it
        _server.Receive(Register(4, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent); // and takes it back
        _sent.Clear();
        _time.Advance(TimeSpan.FromHours(1));
        _server.OnTimer(_sent);
        Assert.Null(_server.Lookup(LispAddress.Parse("10.200.0.7")));
        // (The unacknowledged move notifies are retransmitted too; the news of the expiry is the one without locators.)
        var expired = ReadNotify(Assert.Single(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1")) && ReadNotify(d).Records.All(r => r.Locators.Count == 0)));
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), Assert.Single(expired.Records).Eid);
        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(Xtr("127.10.2.1")) && ReadNotify(d).Records.All(r => r.Locators.Count == 0));
    }

    [Fact]
    public void A_refresh_that_crossed_the_news_of_the_move_does_not_take_the_eid_back()
    {
        var notify = ReadNotify(MoveVm()); // 10.200.0.7 moved dc1 -> dc2; dc1 has not acknowledged yet
        _sent.Clear();

        // dc1's periodic registration, sent before the news reached it: its /32 is not applied, the news goes again now.
        _server.Receive(Register(2, Dc1Secret, Record("10.1.0.0/16", 1440, "127.10.1.1"), Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);

        Assert.Equal("dc2", _server.Lookup(LispAddress.Parse("10.200.0.7"))!.Site);
        Assert.Equal("dc1", _server.Lookup(LispAddress.Parse("10.1.0.1"))!.Site); // the rest of the Map-Register applies
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.StaleRegistration));
        Assert.DoesNotContain(_sent.Items, d => ReadNotify(d).Nonce == 2); // not acknowledged: dc1 registers again once it heard
        Assert.Equal(1, _server.Counters.Moves);
        Assert.Contains(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1")) && d.Payload.Span.SequenceEqual(EncodedAgain(notify)));

        // Acknowledged: a registration of it afterwards is a real move back.
        _server.Receive(MapNotifyAck.For(notify).ToSignedArray(Key(Dc1Secret)), Dc1Xtr, _sent);
        _server.Receive(Register(3, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Equal("dc1", _server.Lookup(LispAddress.Parse("10.200.0.7"))!.Site);
        Assert.Equal(2, _server.Counters.Moves);
    }

    private static byte[] EncodedAgain(MapNotify notify) => notify.ToSignedArray(Key(Dc1Secret));

    [Fact]
    public void News_that_the_eid_is_gone_replaces_the_unacknowledged_news_of_the_move_and_holds_off_a_stale_refresh()
    {
        MoveVm(); // dc1 -> dc2, dc1 never acknowledges
        _sent.Clear();
        _server.Receive(Register(2, Dc2Secret, Record("10.200.0.7/32", 0)), Dc2Xtr, _sent); // dc2 withdraws: dc1 is told it is gone

        Assert.Equal(1, _server.PendingNotifyCount); // the move's notification is replaced, not queued behind
        var gone = ReadNotify(Assert.Single(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1"))));
        Assert.Empty(Assert.Single(gone.Records).Locators);

        // dc1 refreshes the /32 before it heard: not applied, the news goes again.
        _sent.Clear();
        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Null(_server.Lookup(LispAddress.Parse("10.200.0.7")));
        Assert.Equal(1, _server.Counters.Rejected(RejectReason.StaleRegistration));
        Assert.Contains(_sent.Items, d => d.Destination.Equals(Xtr("127.10.1.1")) && ReadNotify(d).Nonce == gone.Nonce);

        // Retransmissions carry the gone news only.
        _sent.Clear();
        Advance(3);
        Assert.All(_sent.Items.Where(d => d.Destination.Equals(Xtr("127.10.1.1"))), d => Assert.Empty(Assert.Single(ReadNotify(d).Records).Locators));
    }

    [Fact]
    public void An_unanswered_smr_is_sent_again_each_interval_up_to_three_times_and_a_map_request_stops_it()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        var itr = Xtr("127.10.9.9", 40001);
        var other = Xtr("127.10.9.8", 40001);
        _server.Receive(Request("10.200.0.7", itr), itr, _sent);
        _server.Receive(Request("10.200.0.7", other), other, _sent);
        _sent.Clear();

        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        Assert.Single(_sent.Items, d => d.Destination.Equals(itr));
        Assert.Single(_sent.Items, d => d.Destination.Equals(other));
        _server.Receive(Request("10.200.0.7", other, nonce: 5), other, _sent); // "other" got it and asked again

        for (var s = 0; s < 20; s++) Advance(1);

        Assert.Equal(4, _sent.Items.Count(d => d.Destination.Equals(itr) && IsSmr(d))); // first + 3 retries
        Assert.Equal(1, _sent.Items.Count(d => d.Destination.Equals(other) && IsSmr(d)));
    }

    private static bool IsSmr(OutgoingDatagram d) => MapRequest.TryRead(d.Payload.Span, out var r, out _) && r.Smr;

    [Fact]
    public void Refresh_by_the_same_etr_is_not_a_move()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Equal(0, _server.Counters.Moves);
        Assert.Equal(0, _server.PendingNotifyCount);
    }

    [Fact]
    public void Requester_gets_an_smr_after_the_move_and_at_most_one_per_3_seconds()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        var itr = Xtr("127.10.9.9", 40001);
        _server.Receive(Request("10.200.0.7", itr), itr, _sent);
        _sent.Clear();

        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        _server.OnTimer(_sent);
        var smr = Assert.Single(_sent.Items, d => d.Destination.Equals(itr));
        Assert.True(MapRequest.TryRead(smr.Payload.Span, out var request, out _));
        Assert.True(request.Smr);
        Assert.Equal(LispAddress.Parse("10.200.0.7"), request.SourceEid);
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), Assert.Single(request.Records));
        Assert.Equal(1, _server.Counters.SmrsSent);

        // It moves back 1 s later: the SMR waits for the end of the 3 s interval instead of being lost.
        Advance(1);
        _sent.Clear();
        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.OnTimer(_sent);
        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(itr));
        Advance(1);
        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(itr));
        Advance(1);
        Assert.Single(_sent.Items, d => d.Destination.Equals(itr));
        Assert.Equal(2, _server.Counters.SmrsSent);
    }

    [Fact]
    public void Smr_goes_out_with_the_register_that_moved_the_eid_not_at_the_next_timer()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        var itr = Xtr("127.10.9.9", 40001);
        _server.Receive(Request("10.200.0.7", itr), itr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        Assert.Single(_sent.Items, d => d.Destination.Equals(itr));
        Assert.Equal(1, _server.Counters.SmrsSent);
    }

    [Fact]
    public void Requesters_older_than_the_memory_window_get_no_smr()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        var itr = Xtr("127.10.9.9", 40001);
        _server.Receive(Request("10.200.0.7", itr), itr, _sent);
        _time.Advance(TimeSpan.FromMinutes(16));
        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        _server.OnTimer(_sent);
        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(itr));
        Assert.Equal(0, _server.Counters.SmrsSent);
    }

    // Registers 10.200.0.7 at dc1, then at dc2; returns the unsolicited Map-Notify sent to dc1.
    private OutgoingDatagram MoveVm()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _sent.Clear();
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        Assert.Equal(2, _sent.Items.Count); // the solicited one to dc2, the unsolicited one to dc1
        Assert.Equal(Xtr("127.10.2.1"), _sent.Items.Single(d => ReadNotify(d).Nonce == 1 && d.Destination.Address.Equals(Dc2Xtr.Address)).Destination);
        return _sent.Items.Single(d => d.Destination.Equals(Xtr("127.10.1.1")));
    }

    private void Advance(int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            _server.OnTimer(_sent);
        }
    }
}
