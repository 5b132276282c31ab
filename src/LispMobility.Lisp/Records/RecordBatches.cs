namespace LispMobility.Lisp.Records;

/// <summary>Splits mapping records into the runs one Map-Register or Map-Notify can carry.</summary>
public static class RecordBatches
{
    /// <summary>
    /// Bytes of records per message: with the header, the MAC, the xTR-ID and the site-ID, a Map-Register or Map-Notify
    /// then stays inside a 1,500-byte path (42 host records with one IPv4 RLOC).
    /// </summary>
    public const int RecordBytes = 1200;

    /// <summary>Consecutive runs of <paramref name="items"/> whose records fit <paramref name="budget"/> bytes; a record bigger than that goes alone.</summary>
    public static IEnumerable<List<T>> Split<T>(IEnumerable<T> items, Func<T, MappingRecord> recordOf, int budget = RecordBytes)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(recordOf);
        var batch = new List<T>();
        var bytes = 0;
        foreach (var item in items)
        {
            var length = recordOf(item).GetSerializedLength();
            if (batch.Count > 0 && bytes + length > budget)
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(item);
            bytes += length;
        }

        if (batch.Count > 0) yield return batch;
    }
}
