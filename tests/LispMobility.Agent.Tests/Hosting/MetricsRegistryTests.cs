using LispMobility.Agent.Hosting;

namespace LispMobility.Agent.Tests.Hosting;

public sealed class MetricsRegistryTests
{
    [Fact]
    public void Writes_counters_gauges_and_histograms_in_the_text_format()
    {
        var registry = new MetricsRegistry();
        var registers = registry.Counter("lispmobility_map_registers_sent_total", "Map-Registers sent.", "site");
        registers.WithLabels("dc1").Inc();
        registers.WithLabels("dc1").Inc(2);
        registers.WithLabels("dc2").Inc();
        registry.Gauge("lispmobility_eids", "EIDs registered by this agent.").Set(42);
        var moves = registry.Histogram("lispmobility_move_seconds", "Time from detection to Map-Notify.", [0.1, 0.5, 1]);
        moves.Observe(0.05);
        moves.Observe(0.1); // bounds are inclusive: counts in le="0.1"
        moves.Observe(0.7);
        moves.Observe(3);

        var text = registry.Render();

        Assert.Equal(
            "# HELP lispmobility_eids EIDs registered by this agent.\n" +
            "# TYPE lispmobility_eids gauge\n" +
            "lispmobility_eids 42\n" +
            "# HELP lispmobility_map_registers_sent_total Map-Registers sent.\n" +
            "# TYPE lispmobility_map_registers_sent_total counter\n" +
            "lispmobility_map_registers_sent_total{site=\"dc1\"} 3\n" +
            "lispmobility_map_registers_sent_total{site=\"dc2\"} 1\n" +
            "# HELP lispmobility_move_seconds Time from detection to Map-Notify.\n" +
            "# TYPE lispmobility_move_seconds histogram\n" +
            "lispmobility_move_seconds_bucket{le=\"0.1\"} 2\n" +
            "lispmobility_move_seconds_bucket{le=\"0.5\"} 2\n" +
            "lispmobility_move_seconds_bucket{le=\"1\"} 3\n" +
            "lispmobility_move_seconds_bucket{le=\"+Inf\"} 4\n" +
            "lispmobility_move_seconds_sum 3.85\n" +
            "lispmobility_move_seconds_count 4\n",
            text);
        var parsed = PrometheusTextParser.Parse(text);
        Assert.Equal(3, parsed.Count);
    }

    [Fact]
    public void Labelled_histogram_buckets_are_cumulative_and_end_in_the_count()
    {
        var registry = new MetricsRegistry();
        var h = registry.Histogram("rtt_seconds", "RTT.", null, "peer", "afi");
        var random = new Random(7);
        for (var i = 0; i < 500; i++) h.WithLabels(i % 2 == 0 ? "ms1" : "ms2", "ipv4").Observe(random.NextDouble() * 12);

        var family = PrometheusTextParser.Parse(registry.Render())["rtt_seconds"];

        foreach (var peer in new[] { "ms1", "ms2" })
        {
            var buckets = family.Samples.Where(s => s.Name == "rtt_seconds_bucket" && s.Labels["peer"] == peer).ToList();
            Assert.Equal(Histogram.DefaultBuckets.Count + 1, buckets.Count);
            Assert.All(buckets, b => Assert.Equal("ipv4", b.Labels["afi"]));
            Assert.Equal("+Inf", buckets[^1].Labels["le"]);
            for (var i = 1; i < buckets.Count; i++) Assert.True(buckets[i].Value >= buckets[i - 1].Value);
            var count = family.Samples.Single(s => s.Name == "rtt_seconds_count" && s.Labels["peer"] == peer).Value;
            Assert.Equal(250, count);
            Assert.Equal(count, buckets[^1].Value);
            Assert.Contains(family.Samples, s => s.Name == "rtt_seconds_sum" && s.Labels["peer"] == peer && s.Value > 0);
        }
    }

    [Fact]
    public void Label_values_and_help_are_escaped()
    {
        var registry = new MetricsRegistry();
        registry.Counter("weird_total", "back\\slash and\nnewline", "vm").WithLabels("a\"b\\c\nd").Inc();

        var text = registry.Render();

        Assert.Contains("# HELP weird_total back\\\\slash and\\nnewline\n", text, StringComparison.Ordinal);
        Assert.Contains("weird_total{vm=\"a\\\"b\\\\c\\nd\"} 1\n", text, StringComparison.Ordinal);
        var sample = PrometheusTextParser.Parse(text)["weird_total"].Samples.Single();
        Assert.Equal("a\"b\\c\nd", sample.Labels["vm"]);
    }

    [Fact]
    public void Special_values_use_the_formats_spelling()
    {
        var registry = new MetricsRegistry();
        var g = registry.Gauge("g", "g.", "k");
        g.WithLabels("inf").Set(double.PositiveInfinity);
        g.WithLabels("nan").Set(double.NaN);
        g.WithLabels("neg").Set(double.NegativeInfinity);
        g.WithLabels("small").Set(1e-7);

        var text = registry.Render();

        Assert.Contains("g{k=\"inf\"} +Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("g{k=\"nan\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("g{k=\"neg\"} -Inf\n", text, StringComparison.Ordinal);
        Assert.Equal(1e-7, PrometheusTextParser.Parse(text)["g"].Samples.Single(s => s.Labels["k"] == "small").Value);
    }

    [Fact]
    public void Concurrent_increments_are_not_lost()
    {
        var registry = new MetricsRegistry();
        var counter = registry.Counter("hits_total", "hits.", "worker");
        var gauge = registry.Gauge("level", "level.");
        var histogram = registry.Histogram("sizes", "sizes.", [10, 100]);

        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, w =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                counter.WithLabels((i % 4).ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
                gauge.WithLabels().Inc(0.5);
                histogram.Observe(i % 200);
            }
        });

        Assert.Equal(160_000, Enumerable.Range(0, 4).Sum(i => counter.WithLabels(i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Value));
        Assert.Equal(80_000, gauge.WithLabels().Value);
        Assert.Equal(160_000, histogram.WithLabels().Count);
        Assert.Equal(8 * 100.0 * (199 * 200 / 2), histogram.WithLabels().Sum);
    }

    [Fact]
    public void Registering_the_same_metric_twice_returns_it_and_a_conflict_throws()
    {
        var registry = new MetricsRegistry();
        var first = registry.Counter("x_total", "x.", "a");
        Assert.Same(first, registry.Counter("x_total", "x.", "a"));

        Assert.Throws<InvalidOperationException>(() => registry.Gauge("x_total", "x.", "a"));
        Assert.Throws<InvalidOperationException>(() => registry.Counter("x_total", "x.", "b"));
        Assert.Throws<ArgumentException>(() => registry.Counter("1bad", "x."));
        Assert.Throws<ArgumentException>(() => registry.Counter("ok_total", "x.", "__reserved"));
        Assert.Throws<ArgumentException>(() => registry.Histogram("h", "h.", null, "le"));
        Assert.Throws<ArgumentException>(() => registry.Histogram("h2", "h.", [1, 1]));
        Assert.Throws<ArgumentException>(() => first.WithLabels("a", "b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => first.WithLabels("a").Inc(-1));
    }

    [Fact]
    public void A_labelled_family_with_no_series_yet_still_has_help_and_type()
    {
        var registry = new MetricsRegistry();
        registry.Counter("later_total", "Filled later.", "site");

        Assert.Equal("# HELP later_total Filled later.\n# TYPE later_total counter\n", registry.Render());
    }
}
