using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Messages;
using LispMobility.Platform;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// A registrant that acknowledged the news that an EID under its aggregate moved away, and then lost it (killed -9 before it
/// journaled the away state), is told again when it next registers its aggregate; so is another xTR joining the aggregate.
/// </summary>
public sealed class ForgottenNewsTests
{
    private readonly MapServer _server = Engine().Server;
    private readonly DatagramList _sent = new();

    [Fact]
    public void News_acknowledged_and_then_forgotten_is_told_again_by_the_next_refresh_of_the_aggregate_without_counting_a_move()
    {
        Dc2TakesAnEidUnderDc1sAggregate();
        Acknowledge(News(), Dc1Xtr, Dc1Secret);
        Assert.Equal(0, _server.PendingNotifyCount);
        _sent.Clear();

        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent); // restarted, knows nothing

        var record = Assert.Single(News().Records);
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), "127.10.2.1"), (record.Eid, Assert.Single(record.Locators).Address.ToString()));
        Assert.Equal(1, _server.Counters.Moves);
        Assert.Equal(1, _server.PendingNotifyCount);
    }

    [Fact]
    public void A_refresh_of_the_aggregate_while_the_news_awaits_its_ack_does_not_queue_it_twice()
    {
        Dc2TakesAnEidUnderDc1sAggregate();
        _sent.Clear();

        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);

        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(Dc1Xtr) && ReadNotify(d).Nonce != 2);
        Assert.Equal(1, _server.PendingNotifyCount);
    }

    [Fact]
    public void A_second_xtr_joining_the_sites_aggregate_is_told_of_the_eids_other_sites_hold_under_it()
    {
        Dc2TakesAnEidUnderDc1sAggregate();
        _sent.Clear();

        var join = (RegisterMessage(1, Record("10.200.0.0/16", 1440, "127.10.1.2")) with { MergeRequest = true }).ToSignedArray(Key(Dc1Secret));
        _server.Receive(join, Dc1Xtr2, _sent);

        var told = _sent.Items.Where(d => d.Destination.Equals(Dc1Xtr2)).Select(ReadNotify).Single(n => n.Nonce != 1);
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), Assert.Single(told.Records).Eid);
    }

    [Fact]
    public void A_refresh_of_an_aggregate_with_nothing_held_elsewhere_under_it_gets_only_its_map_notify()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(1, Dc2Secret, Record("10.201.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent); // outside dc1's aggregate
        _sent.Clear();

        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);

        Assert.Equal(2ul, ReadNotify(Assert.Single(_sent.Items)).Nonce);
        Assert.Equal(0, _server.PendingNotifyCount);
    }

    // DC1 registers its aggregate 10.200.0.0/16, DC2 a /32 under it: DC1 is sent the news.
    private void Dc2TakesAnEidUnderDc1sAggregate()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
    }

    // The one unsolicited Map-Notify sent to dc1 since the last Clear.
    private MapNotify News() => _sent.Items.Where(d => d.Destination.Equals(Dc1Xtr)).Select(ReadNotify).Single(n => n.Nonce is not (1 or 2));

    private void Acknowledge(MapNotify notify, System.Net.IPEndPoint from, string secret) =>
        _server.Receive(MapNotifyAck.For(notify).ToSignedArray(Key(secret)), from, _sent);
}
