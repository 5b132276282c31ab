using System.Text.RegularExpressions;

namespace LispMobility.Agent.Tests.Installer;

/// <summary>The README's operate table lists every verb the CLI has, and no verb it lacks.</summary>
public sealed partial class ReadmeOperateTests
{
    [GeneratedRegex(@"^\| `lispmobility (?<verb>[a-z-]+(?: map-cache| validate)?)", RegexOptions.Multiline)]
    private static partial Regex ReadmeVerb();

    [GeneratedRegex(@"new Command\(""(?<verb>[a-z-]+)""|\(""(?<verb>[a-z-]+)"", ""/api/")]
    private static partial Regex ProgramVerb();

    [Fact]
    public void Every_cli_verb_is_in_the_operate_table()
    {
        var readme = File.ReadAllText(RepositoryPaths.File("README.md"));
        var operate = readme[readme.IndexOf("## Operate", StringComparison.Ordinal)..];
        var listed = ReadmeVerb().Matches(operate).Select(m => m.Groups["verb"].Value).ToHashSet();
        var program = File.ReadAllText(RepositoryPaths.File("src", "LispMobility.Agent", "Program.cs"));
        var verbs = ProgramVerb().Matches(program).Select(m => m.Groups["verb"].Value).ToHashSet();
        // Sub-verbs read with their parent; `lab` is the embedded lab, documented with scripts/lab.sh at the top; failover and
        // failback are made in a loop over their names.
        Assert.Contains("(\"failover\", ", program, StringComparison.Ordinal);
        verbs.ExceptWith(["clear", "config", "lab", "validate"]);
        verbs.UnionWith(["clear map-cache", "config validate", "failover"]);

        Assert.Empty(verbs.Except(listed));
    }
}
