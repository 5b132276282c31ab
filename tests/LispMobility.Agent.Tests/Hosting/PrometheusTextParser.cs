using System.Globalization;
using System.Text;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>A strict reader of the Prometheus text format 0.0.4, written from the format's description, to check our writer.</summary>
internal static class PrometheusTextParser
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Family(string Name, string Help, string Type, List<Sample> Samples);

    public static Dictionary<string, Family> Parse(string text)
    {
        Assert.EndsWith("\n", text);
        var families = new Dictionary<string, Family>();
        Family? current = null;
        foreach (var line in text[..^1].Split('\n'))
        {
            // HELP and TYPE come before a family's samples, in either order (OpenTelemetry's exporter writes TYPE first).
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line[7..];
                var space = rest.IndexOf(' ', StringComparison.Ordinal);
                var name = rest[..space];
                current = Begin(families, current, name);
                Assert.Equal("", current.Help);
                current = current with { Help = Unescape(rest[(space + 1)..], quotes: false) };
                families[name] = current;
            }
            else if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line[7..].Split(' ');
                Assert.Equal(2, parts.Length);
                current = Begin(families, current, parts[0]);
                Assert.Equal("", current.Type);
                Assert.Contains(parts[1], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                current = current with { Type = parts[1] };
                families[current.Name] = current;
            }
            else if (line.StartsWith('#'))
            {
                Assert.Fail($"unexpected comment: {line}");
            }
            else
            {
                Assert.NotNull(current);
                Assert.NotEqual("", current!.Type);
                var sample = ParseSample(line);
                var allowed = current.Type == "histogram"
                    ? new[] { current.Name + "_bucket", current.Name + "_sum", current.Name + "_count" }
                    : new[] { current.Name };
                Assert.Contains(sample.Name, allowed);
                current.Samples.Add(sample);
            }
        }
        return families;
    }

    // The family a HELP or TYPE line belongs to: the current one when it names it and has no samples yet, else a new one.
    private static Family Begin(Dictionary<string, Family> families, Family? current, string name)
    {
        if (current is not null && current.Name == name && current.Samples.Count == 0) return current;
        Assert.False(families.ContainsKey(name), $"a second block for {name}");
        var family = new Family(name, "", "", []);
        families[name] = family;
        return family;
    }

    private static Sample ParseSample(string line)
    {
        var i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':')) i++;
        var name = line[..i];
        Assert.False(string.IsNullOrEmpty(name) || char.IsAsciiDigit(name[0]), $"bad metric name in: {line}");
        var labels = new Dictionary<string, string>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var start = i;
                while (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_') i++;
                var label = line[start..i];
                Assert.Equal('=', line[i++]);
                Assert.Equal('"', line[i++]);
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch { 'n' => '\n', '\\' => '\\', '"' => '"', _ => throw new FormatException($"bad escape in {line}") });
                    }
                    else value.Append(line[i]);
                    i++;
                }
                i++;
                Assert.True(labels.TryAdd(label, value.ToString()), $"duplicate label {label}");
                if (line[i] == ',') i++;
            }
            i++;
        }
        Assert.Equal(' ', line[i++]);
        var valueText = line[i..];
        var parsed = valueText switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, parsed);
    }

    private static string Unescape(string text, bool quotes) =>
        text.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
}
