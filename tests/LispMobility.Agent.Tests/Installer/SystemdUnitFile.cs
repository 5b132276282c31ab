namespace LispMobility.Agent.Tests.Installer;

/// <summary>A reader of systemd's INI dialect (systemd.syntax(7)): sections, repeatable keys, comments, continuation lines.</summary>
internal sealed class SystemdUnitFile
{
    private readonly List<(string Section, string Key, string Value)> _entries = [];

    public List<string> Sections { get; } = [];

    public static SystemdUnitFile Parse(string text)
    {
        var unit = new SystemdUnitFile();
        string? section = null;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            while (line.EndsWith('\\') && i + 1 < lines.Length) line = line[..^1] + " " + lines[++i].Trim();
            if (line[0] == '[')
            {
                Assert.EndsWith("]", line);
                section = line[1..^1];
                Assert.DoesNotContain(section, unit.Sections);
                unit.Sections.Add(section);
                continue;
            }
            Assert.True(section is not null, $"line {i + 1} outside any section: {line}");
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(equals > 0, $"line {i + 1} is not KEY=VALUE: {line}");
            unit._entries.Add((section!, line[..equals].Trim(), line[(equals + 1)..].Trim()));
        }
        return unit;
    }

    public IReadOnlyList<string> Values(string section, string key) =>
        _entries.Where(e => e.Section == section && e.Key == key).Select(e => e.Value).ToList();

    public string Single(string section, string key) => Assert.Single(Values(section, key));
}
