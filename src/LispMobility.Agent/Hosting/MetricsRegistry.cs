using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace LispMobility.Agent.Hosting;

/// <summary>The agent's metrics: counters, gauges and histograms with labels, written in the Prometheus text format 0.0.4.</summary>
/// <remarks>
/// One registry per host (a DI singleton), never a static: two agents in one test process keep separate numbers.
/// Registering a name twice returns the same family when type, labels (and buckets) match, so each component
/// can declare what it needs without a central list; a mismatch is a programming error and throws.
/// </remarks>
public sealed class MetricsRegistry
{
    /// <summary>The Content-Type of <see cref="WriteTo"/>'s output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly ConcurrentDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);

    /// <summary>Gets or creates a counter family.</summary>
    public Counter Counter(string name, string help, params string[] labelNames) =>
        Register(name, help, labelNames, () => new Counter(name, help, labelNames), _ => true);

    /// <summary>Gets or creates a gauge family.</summary>
    public Gauge Gauge(string name, string help, params string[] labelNames) =>
        Register(name, help, labelNames, () => new Gauge(name, help, labelNames), _ => true);

    /// <summary>Gets or creates a histogram family with the given finite, strictly ascending upper bounds (null: the defaults).</summary>
    public Histogram Histogram(string name, string help, IReadOnlyList<double>? upperBounds, params string[] labelNames)
    {
        var bounds = (upperBounds ?? Hosting.Histogram.DefaultBuckets).ToArray();
        if (bounds.Length == 0 || bounds.Any(b => !double.IsFinite(b)) || bounds.Zip(bounds.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"histogram {name}: buckets must be finite and strictly ascending", nameof(upperBounds));
        if (labelNames?.Contains("le") == true)
            throw new ArgumentException($"histogram {name}: the label name 'le' is reserved for buckets", nameof(labelNames));
        return Register(name, help, labelNames!, () => new Histogram(name, help, bounds, labelNames!),
            h => h.UpperBounds.SequenceEqual(bounds));
    }

    /// <summary>Writes every family, sorted by name, in the text exposition format.</summary>
    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
            PrometheusText.Write(writer, family);
    }

    /// <summary>The whole exposition as a string.</summary>
    public string Render()
    {
        var builder = new StringBuilder();
        using (var writer = new StringWriter(builder, CultureInfo.InvariantCulture)) WriteTo(writer);
        return builder.ToString();
    }

    private T Register<T>(string name, string help, string[] labelNames, Func<T> create, Func<T, bool> sameShape)
        where T : MetricFamily
    {
        ArgumentNullException.ThrowIfNull(help);
        ArgumentNullException.ThrowIfNull(labelNames);
        if (!PrometheusText.IsValidMetricName(name))
            throw new ArgumentException($"'{name}' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", nameof(name));
        foreach (var label in labelNames)
        {
            if (!PrometheusText.IsValidLabelName(label))
                throw new ArgumentException($"metric {name}: '{label}' is not a valid label name", nameof(labelNames));
        }
        if (labelNames.Distinct(StringComparer.Ordinal).Count() != labelNames.Length)
            throw new ArgumentException($"metric {name}: duplicate label names", nameof(labelNames));

        var family = _families.GetOrAdd(name, _ => create());
        if (family is T typed && typed.LabelNames.SequenceEqual(labelNames) && sameShape(typed)) return typed;
        throw new InvalidOperationException(
            $"metric {name} is already registered as a {family.TypeName} with labels ({string.Join(", ", family.LabelNames)})");
    }
}

/// <summary>The Prometheus text exposition format, version 0.0.4.</summary>
internal static class PrometheusText
{
    public static void Write(TextWriter writer, MetricFamily family)
    {
        writer.Write("# HELP ");
        writer.Write(family.Name);
        writer.Write(' ');
        writer.Write(EscapeHelp(family.Help));
        writer.Write('\n');
        writer.Write($"# TYPE {family.Name} {family.TypeName}\n");
        foreach (var (labels, series) in family.Snapshot())
        {
            switch (series)
            {
                case CounterSeries c: Sample(writer, family.Name, family.LabelNames, labels, null, c.Value); break;
                case GaugeSeries g: Sample(writer, family.Name, family.LabelNames, labels, null, g.Value); break;
                case HistogramSeries h: WriteHistogram(writer, (Histogram)family, labels, h); break;
            }
        }
    }

    private static void WriteHistogram(TextWriter writer, Histogram family, string[] labels, HistogramSeries series)
    {
        // Read the sum before the counts: an observation racing the scrape then shows in _count but maybe not yet
        // in _sum, never a sum that belongs to observations the buckets do not show.
        var sum = series.Sum;
        var cumulative = series.CumulativeCounts();
        for (var i = 0; i < cumulative.Length; i++)
        {
            var le = i < family.UpperBounds.Count ? FormatValue(family.UpperBounds[i]) : "+Inf";
            Sample(writer, family.Name + "_bucket", family.LabelNames, labels, le, cumulative[i]);
        }
        Sample(writer, family.Name + "_sum", family.LabelNames, labels, null, sum);
        Sample(writer, family.Name + "_count", family.LabelNames, labels, null, cumulative[^1]);
    }

    private static void Sample(TextWriter writer, string name, IReadOnlyList<string> labelNames, string[] labelValues,
        string? le, double value)
    {
        writer.Write(name);
        if (labelNames.Count > 0 || le is not null)
        {
            writer.Write('{');
            var first = true;
            for (var i = 0; i < labelNames.Count; i++)
            {
                if (!first) writer.Write(',');
                first = false;
                writer.Write($"{labelNames[i]}=\"{EscapeLabelValue(labelValues[i])}\"");
            }
            if (le is not null) writer.Write($"{(first ? "" : ",")}le=\"{le}\"");
            writer.Write('}');
        }
        writer.Write(' ');
        writer.Write(FormatValue(value));
        writer.Write('\n');
    }

    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        // "R" is the shortest text that parses back to the same double, e.g. 0.1 and 1E+20; Go's ParseFloat reads both.
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    // The format escapes only backslash and newline in HELP, and those plus double quote in label values.
    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabelValue(string text) => EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);

    public static bool IsValidMetricName(string? name) =>
        !string.IsNullOrEmpty(name) && IsNameStart(name[0], colon: true) && name.All(c => IsNameStart(c, colon: true) || char.IsAsciiDigit(c));

    // Names starting with "__" are reserved for Prometheus's own use.
    public static bool IsValidLabelName(string? name) =>
        !string.IsNullOrEmpty(name) && !name.StartsWith("__", StringComparison.Ordinal) && IsNameStart(name[0], colon: false)
        && name.All(c => IsNameStart(c, colon: false) || char.IsAsciiDigit(c));

    private static bool IsNameStart(char c, bool colon) => char.IsAsciiLetter(c) || c == '_' || (colon && c == ':');
}
