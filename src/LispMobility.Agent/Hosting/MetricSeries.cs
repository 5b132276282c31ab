namespace LispMobility.Agent.Hosting;

// One time series = one metric family + one set of label values. Every update is a lock-free atomic
// operation on a long (doubles are stored as their bits), so hot paths (packets, registrations) never block
// on a scrape; a scrape reads each cell atomically but not the series as a whole, as Prometheus clients do.

/// <summary>One labelled series of a <see cref="Counter"/>: a value that only goes up.</summary>
public sealed class CounterSeries
{
    private long _bits;

    internal CounterSeries() { }

    /// <summary>The current value.</summary>
    public double Value => AtomicDouble.Read(ref _bits);

    /// <summary>Adds <paramref name="amount"/> (default 1), which must be finite and not negative.</summary>
    public void Inc(double amount = 1)
    {
        if (!(amount >= 0) || double.IsInfinity(amount))
            throw new ArgumentOutOfRangeException(nameof(amount), amount, "a counter only increases by a finite amount ≥ 0");
        AtomicDouble.Add(ref _bits, amount);
    }
}

/// <summary>One labelled series of a <see cref="Gauge"/>: a value that goes up and down.</summary>
public sealed class GaugeSeries
{
    private long _bits;

    internal GaugeSeries() { }

    /// <summary>The current value.</summary>
    public double Value => AtomicDouble.Read(ref _bits);

    /// <summary>Sets the value.</summary>
    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));

    /// <summary>Adds <paramref name="amount"/> (default 1).</summary>
    public void Inc(double amount = 1) => AtomicDouble.Add(ref _bits, amount);

    /// <summary>Subtracts <paramref name="amount"/> (default 1).</summary>
    public void Dec(double amount = 1) => AtomicDouble.Add(ref _bits, -amount);
}

/// <summary>One labelled series of a <see cref="Histogram"/>: observations counted into fixed buckets.</summary>
public sealed class HistogramSeries
{
    private readonly double[] _upperBounds;
    // Per-bucket (not cumulative) counts; the last cell is the +Inf overflow. Cumulated when written.
    private readonly long[] _counts;
    private long _sumBits;

    internal HistogramSeries(double[] upperBounds)
    {
        _upperBounds = upperBounds;
        _counts = new long[upperBounds.Length + 1];
    }

    /// <summary>Records one observation; NaN is ignored because it belongs to no bucket and would poison the sum.</summary>
    public void Observe(double value)
    {
        if (double.IsNaN(value)) return;
        var index = Array.BinarySearch(_upperBounds, value);
        // Bounds are inclusive (le = "less than or equal"); a miss returns the complement of the next larger bound.
        if (index < 0) index = ~index;
        Interlocked.Increment(ref _counts[index]);
        AtomicDouble.Add(ref _sumBits, value);
    }

    /// <summary>The number of observations so far.</summary>
    public long Count
    {
        get
        {
            long total = 0;
            for (var i = 0; i < _counts.Length; i++) total += Interlocked.Read(ref _counts[i]);
            return total;
        }
    }

    /// <summary>The sum of all observations.</summary>
    public double Sum => AtomicDouble.Read(ref _sumBits);

    // Cumulative counts per bound, the +Inf bucket last; _count is taken from the +Inf bucket so the two always agree.
    internal long[] CumulativeCounts()
    {
        var result = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            result[i] = running;
        }
        return result;
    }
}

internal static class AtomicDouble
{
    public static double Read(ref long bits) => BitConverter.Int64BitsToDouble(Interlocked.Read(ref bits));

    // Compare-and-swap on the bit pattern, so a NaN stored by a gauge cannot make the loop spin forever.
    public static void Add(ref long bits, double amount)
    {
        long seen, next;
        do
        {
            seen = Interlocked.Read(ref bits);
            next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + amount);
        }
        while (Interlocked.CompareExchange(ref bits, next, seen) != seen);
    }
}
