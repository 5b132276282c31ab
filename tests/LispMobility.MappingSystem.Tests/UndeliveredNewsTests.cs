using LispMobility.Lisp.Addressing;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;
using static LispMobility.MappingSystem.Tests.Lab;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// Issue 16, fault 2: news of a move the previous registrant never acknowledged (it was down) reaches it when it registers
/// again, and a registrant taking an EID back is not told, by the same Map-Register, that it lost it.
/// </summary>
public sealed class UndeliveredNewsTests
{
    private readonly MapServer _server;
    private readonly FakeTimeProvider _time;
    private readonly DatagramList _sent = new();

    public UndeliveredNewsTests() => (_server, _time) = Engine();

    [Fact]
    public void News_given_up_on_is_told_again_when_the_registrant_next_refreshes_its_aggregate()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent); // dc1 is down
        Advance(120);
        Assert.Equal(1, _server.Counters.NotifyGiveUps);
        _sent.Clear();

        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent); // dc1 restarted

        var told = _sent.Items.Where(d => d.Destination.Equals(Dc1Xtr)).Select(ReadNotify).Single(n => n.Nonce != 2);
        var record = Assert.Single(told.Records);
        Assert.Equal((EidPrefix.Parse("10.200.0.7/32"), "127.10.2.1"), (record.Eid, Assert.Single(record.Locators).Address.ToString()));
        Assert.Equal(1, _server.PendingNotifyCount);

        _sent.Clear();
        _server.Receive(Register(3, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        Assert.Single(_sent.Items, d => d.Destination.Equals(Dc1Xtr)); // only the solicited Map-Notify: the news is pending, not queued twice
    }

    [Fact]
    public void News_given_up_on_is_not_told_when_the_eid_is_no_longer_held_elsewhere()
    {
        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        Advance(120);
        _server.Receive(Register(2, Dc2Secret, Record("10.200.0.7/32", 0)), Dc2Xtr, _sent); // dc2 withdrew it meanwhile
        Advance(120);
        _sent.Clear();

        _server.Receive(Register(2, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1")), Dc1Xtr, _sent);

        Assert.DoesNotContain(_sent.Items, d => d.Destination.Equals(Dc1Xtr) && ReadNotify(d).Nonce != 2);
    }

    [Fact]
    public void A_registrant_taking_an_eid_back_with_its_aggregate_after_a_map_server_restart_is_not_told_it_lost_it()
    {
        _server.Receive(Register(1, Dc2Secret, Record("10.200.0.7/32", 1440, "127.10.2.1")), Dc2Xtr, _sent);
        _sent.Clear();

        _server.Receive(Register(1, Dc1Secret, Record("10.200.0.0/16", 1440, "127.10.1.1"), Record("10.200.0.7/32", 1440, "127.10.1.1")), Dc1Xtr, _sent);

        Assert.Equal("dc1", _server.Lookup(LispAddress.Parse("10.200.0.7"))!.Site);
        Assert.Single(_sent.Items, d => d.Destination.Equals(Dc1Xtr)); // the solicited Map-Notify only
        Assert.Equal(EidPrefix.Parse("10.200.0.7/32"), Assert.Single(ReadNotify(Assert.Single(_sent.Items, d => d.Destination.Equals(Dc2Xtr))).Records).Eid);
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
