using System.Collections.Concurrent;

namespace LispMobility.Agent.Hosting;

/// <summary>A named metric with its help text and label names; its series are created on first use of a label set.</summary>
public abstract class MetricFamily
{
    private protected MetricFamily(string name, string help, string[] labelNames)
    {
        Name = name;
        Help = help;
        LabelNames = labelNames;
    }

    /// <summary>The metric name as exposed, e.g. <c>lispmobility_map_registers_sent_total</c>.</summary>
    public string Name { get; }

    /// <summary>The HELP text.</summary>
    public string Help { get; }

    /// <summary>The label names, in the order <c>WithLabels</c> takes the values.</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The exposition-format TYPE word.</summary>
    public abstract string TypeName { get; }

    internal abstract IEnumerable<(string[] Labels, object Series)> Snapshot();
}

/// <summary>A family of series of type <typeparamref name="TSeries"/>, keyed by label values.</summary>
public abstract class MetricFamily<TSeries> : MetricFamily where TSeries : class
{
    private readonly ConcurrentDictionary<string[], TSeries> _series = new(LabelValuesComparer.Instance);

    private protected MetricFamily(string name, string help, string[] labelNames) : base(name, help, labelNames) { }

    /// <summary>The series for these label values (one per label name, in order); created on first use.</summary>
    public TSeries WithLabels(params string[] labelValues)
    {
        ArgumentNullException.ThrowIfNull(labelValues);
        if (labelValues.Length != LabelNames.Count)
            throw new ArgumentException(
                $"metric {Name} has {LabelNames.Count} label(s) ({string.Join(", ", LabelNames)}) but got {labelValues.Length} value(s)",
                nameof(labelValues));
        foreach (var value in labelValues)
            ArgumentNullException.ThrowIfNull(value, nameof(labelValues));
        if (_series.TryGetValue(labelValues, out var existing)) return existing;
        // Copy: the caller's array must not be able to change a key afterwards.
        return _series.GetOrAdd((string[])labelValues.Clone(), _ => CreateSeries());
    }

    private protected abstract TSeries CreateSeries();

    internal override IEnumerable<(string[] Labels, object Series)> Snapshot()
    {
        // A family without labels has exactly one series, exposed (as 0) before its first update.
        if (LabelNames.Count == 0) WithLabels();
        return _series.OrderBy(p => p.Key, LabelValuesComparer.Instance).Select(p => (p.Key, (object)p.Value)).ToArray();
    }

    private sealed class LabelValuesComparer : IEqualityComparer<string[]>, IComparer<string[]>
    {
        public static readonly LabelValuesComparer Instance = new();

        public bool Equals(string[]? x, string[]? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(string[] obj)
        {
            var hash = new HashCode();
            foreach (var value in obj) hash.Add(value, StringComparer.Ordinal);
            return hash.ToHashCode();
        }

        public int Compare(string[]? x, string[]? y)
        {
            if (x is null || y is null) return (x is null ? 0 : 1) - (y is null ? 0 : 1);
            for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
            {
                var c = string.CompareOrdinal(x[i], y[i]);
                if (c != 0) return c;
            }
            return x.Length.CompareTo(y.Length);
        }
    }
}

/// <summary>A counter family: totals that only increase (names end in <c>_total</c> by convention).</summary>
public sealed class Counter : MetricFamily<CounterSeries>
{
    internal Counter(string name, string help, string[] labelNames) : base(name, help, labelNames) { }

    /// <inheritdoc/>
    public override string TypeName => "counter";

    /// <summary>Adds to the unlabelled series.</summary>
    public void Inc(double amount = 1) => WithLabels().Inc(amount);

    private protected override CounterSeries CreateSeries() => new();
}

/// <summary>A gauge family: values that go up and down (queue depth, known EIDs).</summary>
public sealed class Gauge : MetricFamily<GaugeSeries>
{
    internal Gauge(string name, string help, string[] labelNames) : base(name, help, labelNames) { }

    /// <inheritdoc/>
    public override string TypeName => "gauge";

    /// <summary>Sets the unlabelled series.</summary>
    public void Set(double value) => WithLabels().Set(value);

    private protected override GaugeSeries CreateSeries() => new();
}

/// <summary>A histogram family: observations (durations, sizes) counted into fixed, inclusive upper bounds.</summary>
public sealed class Histogram : MetricFamily<HistogramSeries>
{
    /// <summary>Prometheus's default buckets, in seconds.</summary>
    public static readonly IReadOnlyList<double> DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly double[] _upperBounds;

    internal Histogram(string name, string help, double[] upperBounds, string[] labelNames)
        : base(name, help, labelNames) => _upperBounds = upperBounds;

    /// <summary>The finite upper bounds, ascending; the +Inf bucket is implied.</summary>
    public IReadOnlyList<double> UpperBounds => _upperBounds;

    /// <inheritdoc/>
    public override string TypeName => "histogram";

    /// <summary>Records an observation in the unlabelled series.</summary>
    public void Observe(double value) => WithLabels().Observe(value);

    private protected override HistogramSeries CreateSeries() => new(_upperBounds);
}
