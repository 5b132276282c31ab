using System.Reflection;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Tests.Logging;

/// <summary>Event ids name their source: each assembly logs inside its own block, and no id is used twice anywhere.</summary>
public sealed class EventIdTableTests
{
    private static readonly string[] Assemblies =
    [
        "LispMobility.Platform", "LispMobility.MappingSystem", "LispMobility.Xtr", "LispMobility.Mobility", "LispMobility.Watchers",
        "LispMobility.Fabric", "lispmobility",
    ];

    private static IEnumerable<(string Assembly, string Method, int Id)> LoggerMessages() =>
        from name in Assemblies
        let assembly = Assembly.Load(name)
        from type in assembly.GetTypes()
        from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
        let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
        where attribute is not null
        select (name, $"{type.FullName}.{method.Name}", attribute.EventId);

    [Fact]
    public void No_event_id_is_used_twice_across_the_assemblies()
    {
        var messages = LoggerMessages().ToList();
        Assert.True(messages.Count > 50, $"only {messages.Count} [LoggerMessage] methods found: is the reflection looking in the right place?");

        var duplicates = messages.GroupBy(m => m.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}").ToList();

        Assert.True(duplicates.Count == 0, "event ids used twice:\n" + string.Join("\n", duplicates));
    }

    [Fact]
    public void Every_assembly_logs_inside_its_own_block_and_the_blocks_are_disjoint()
    {
        var blocks = Assemblies.Select(name => (name, Block(Assembly.Load(name)))).ToList();
        var overlaps = (from a in blocks from b in blocks
                        where string.CompareOrdinal(a.name, b.name) < 0 && a.Item2.First <= b.Item2.Last && b.Item2.First <= a.Item2.Last
                        select $"{a.name} and {b.name}").ToList();
        Assert.True(overlaps.Count == 0, "overlapping blocks: " + string.Join(", ", overlaps));

        var outside = LoggerMessages().Where(m =>
        {
            var (first, last) = blocks.Single(b => b.name == m.Assembly).Item2;
            return m.Id < first || m.Id > last;
        }).Select(m => $"{m.Method} uses {m.Id}").ToList();

        Assert.True(outside.Count == 0, "ids outside their assembly's block:\n" + string.Join("\n", outside));
    }

    /// <summary>The assembly's one event-id table: a type named *LogEvents with First and Last.</summary>
    private static (int First, int Last) Block(Assembly assembly)
    {
        var table = Assert.Single(assembly.GetTypes(), t => t.Name.EndsWith("LogEvents", StringComparison.Ordinal) && t.GetField("First", BindingFlags.Public | BindingFlags.Static) is not null);
        return ((int)table.GetField("First")!.GetRawConstantValue()!, (int)table.GetField("Last")!.GetRawConstantValue()!);
    }
}
