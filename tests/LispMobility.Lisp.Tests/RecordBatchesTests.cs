using LispMobility.Lisp.Addressing;
using LispMobility.Lisp.Records;

namespace LispMobility.Lisp.Tests;

/// <summary>Splitting records into what one Map-Register or Map-Notify carries.</summary>
public sealed class RecordBatchesTests
{
    private static MappingRecord Host(int i, int rlocs = 1) => new()
    {
        Eid = EidPrefix.Parse($"10.200.{i / 250}.{i % 250 + 1}/32"), Ttl = 1440,
        Locators = Enumerable.Range(1, rlocs).Select(r => new Locator(LispAddress.Parse($"192.0.2.{r}"), 1, 100)).ToArray(),
    };

    [Fact]
    public void Host_records_with_one_ipv4_rloc_go_42_to_a_message_in_order()
    {
        var records = Enumerable.Range(0, 100).Select(i => Host(i)).ToList();

        var batches = RecordBatches.Split(records, r => r).ToList();

        Assert.Equal([42, 42, 16], batches.Select(b => b.Count));
        Assert.Equal(records, batches.SelectMany(b => b));
        Assert.All(batches, b => Assert.True(b.Sum(r => r.GetSerializedLength()) <= RecordBatches.RecordBytes));
    }

    [Fact]
    public void A_record_bigger_than_the_budget_goes_alone_and_nothing_gives_no_batch()
    {
        var big = Host(1, rlocs: 120); // 12 + 4 + 120 × 12 bytes
        Assert.True(big.GetSerializedLength() > RecordBatches.RecordBytes);

        var batches = RecordBatches.Split([Host(0), big, Host(2)], r => r).ToList();

        Assert.Equal([1, 1, 1], batches.Select(b => b.Count));
        Assert.Empty(RecordBatches.Split(Array.Empty<MappingRecord>(), r => r));
    }
}
