using System.Net;
using LispMobility.Lisp;
using LispMobility.Lisp.Addressing;
using LispMobility.MappingSystem.Configuration;
using LispMobility.MappingSystem.Resolution;
using LispMobility.Platform;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.MappingSystem.Tests;

/// <summary>
/// The requesters the Map-Server remembers for its SMRs stay bounded without a walk of the whole table per Map-Request: a
/// 100,000-EID failback (a second ITR asking for every EID while the first one's requests filled the table) never finished.
/// </summary>
public sealed class SmrSchedulerTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly IPEndPoint ItrA = new(IPAddress.Parse("127.10.1.1"), 4342);
    private static readonly IPEndPoint ItrB = new(IPAddress.Parse("127.10.2.1"), 4342);

    private static SmrScheduler Scheduler(int max) =>
        new(new MapServerOptions { MaxTrackedRequesters = max, RequesterMemory = TimeSpan.FromMinutes(15) }, new FakeTimeProvider(Start), NonceSource.Random);

    private static LispAddress Eid(int i) => LispAddress.FromIPAddress(new IPAddress([10, 200, (byte)(i >> 8), (byte)i]));

    [Fact]
    public void A_full_table_of_recent_requesters_refuses_new_ones_without_walking_it()
    {
        var smr = Scheduler(1000);
        for (var i = 0; i < 1000; i++) smr.Requested(Eid(i), ItrA, Start.AddSeconds(1));

        for (var i = 0; i < 1000; i++) smr.Requested(Eid(i), ItrB, Start.AddSeconds(2));

        Assert.Equal(1000, smr.Tracked);
        Assert.Equal(0, smr.Visited); // walking the table for each refused requester looked at 1,000,000 entries
    }

    [Fact]
    public void Requesters_older_than_the_memory_make_room_oldest_first_and_one_that_asked_again_stays()
    {
        var smr = Scheduler(3);
        smr.Requested(Eid(1), ItrA, Start);
        smr.Requested(Eid(2), ItrA, Start.AddMinutes(1));
        smr.Requested(Eid(3), ItrA, Start.AddMinutes(2));
        smr.Requested(Eid(1), ItrA, Start.AddMinutes(10)); // asked again: remembered from then on

        var now = Start.AddMinutes(16.5);
        smr.Requested(Eid(4), ItrB, now); // Eid(2), asked 15.5 minutes ago, is forgotten for the newcomer

        Assert.Equal(3, smr.Tracked);
        var sent = new DatagramList();
        foreach (var i in new[] { 1, 2, 3, 4 }) smr.MappingChanged(EidPrefix.Host(Eid(i)), now);
        smr.SendDue(now, sent, [], new MapServerCounters());
        Assert.Equal([ItrA, ItrA, ItrB], sent.Items.Select(d => d.Destination).OrderBy(d => d.ToString(), StringComparer.Ordinal));
        Assert.Equal(2, smr.Visited); // Eid(1)'s first item (queued again) and Eid(2)'s: only the expired head of the queue
    }
}
