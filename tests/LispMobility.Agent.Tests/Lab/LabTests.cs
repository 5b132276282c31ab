using Microsoft.Extensions.Configuration;
using LispMobility.Agent.Cli;
using LispMobility.Agent.Configuration;
using LispMobility.Agent.Lab;

namespace LispMobility.Agent.Tests.Lab;

/// <summary>The README's main command, as a test: every step of the lab converges and it leaves nothing behind.</summary>
public sealed class LabTests
{
    [Fact]
    public async Task Lab_converges_every_step_and_leaves_no_files()
    {
        var before = Directory.GetFiles(Path.GetTempPath(), "lispmobility-lab-*");
        var output = new StringWriter();
        var lab = new LabScenario(output);

        var passed = await lab.RunAsync(CancellationToken.None);

        Assert.True(passed, output.ToString());
        Assert.Contains(lab.Checks, c => c.What.Contains("branch map-cache refreshed to DC2 by SMR", StringComparison.Ordinal) && c.Passed);
        Assert.Contains(lab.Checks, c => c.What.Contains("DR failover", StringComparison.Ordinal) && c.Passed);
        Assert.Contains(lab.Checks, c => c.What.Contains("DC2 keeps no blackhole", StringComparison.Ordinal) && c.Passed);
        Assert.True(lab.Checks.Count >= 10, output.ToString());
        Assert.Contains("lab: every step converged", output.ToString(), StringComparison.Ordinal);
        // It shows no packet and says so, pointing at the lab that does.
        Assert.EndsWith("lab: " + LabScenario.DataPlaneNote + Environment.NewLine, output.ToString(), StringComparison.Ordinal);
        Assert.Contains("scripts/netns-lab.sh up", LabScenario.DataPlaneNote, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFiles(Path.GetTempPath(), "lispmobility-lab-*"));
    }

    [Fact]
    public void Config_validate_reports_every_error_with_its_path()
    {
        var file = new FileInfo(Path.GetTempFileName());
        try
        {
            File.WriteAllText(file.FullName, """{"MapServer":{"Listen":["nope"],"Sites":[{"Name":"a","Keys":[{"KeyId":1,"Key":""}]}]}}""");
            var output = new StringWriter();

            var exit = ConfigCommands.Validate(file, TargetOsRules.Current, output);

            Assert.Equal(2, exit);
            var text = output.ToString();
            Assert.Contains("MapServer.Listen[0]: 'nope' is not address:port", text, StringComparison.Ordinal);
            Assert.Contains("MapServer.Sites[0].EidPrefixes: at least one EID-prefix is required", text, StringComparison.Ordinal);
            Assert.Contains("MapServer.Sites[0].Keys[0].Key: the pre-shared key is empty", text, StringComparison.Ordinal);
            Assert.Contains("3 error(s)", text, StringComparison.Ordinal);
        }
        finally
        {
            file.Delete();
        }
    }

    [Theory]
    [InlineData("", Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(""","Log":{"MinimumLevel":"Warning"}""", Microsoft.Extensions.Logging.LogLevel.Warning)]
    [InlineData(""","Log":{"MinimumLevel":"Debug"}""", Microsoft.Extensions.Logging.LogLevel.Debug)]
    public void The_map_server_verb_logs_at_the_configured_level(string log, Microsoft.Extensions.Logging.LogLevel expected)
    {
        var file = new FileInfo(Path.GetTempFileName());
        try
        {
            File.WriteAllText(file.FullName, "{\"MapServer\":{}" + log + "}");
            var errors = new List<string>();

            Assert.Equal(expected, ConfigCommands.MinimumLevel(new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddJsonFile(file.FullName).Build(), errors));
            Assert.Empty(errors);
        }
        finally
        {
            file.Delete();
        }
    }

    [Fact]
    public void The_example_configuration_is_valid()
    {
        var file = new FileInfo(Path.Combine(RepositoryRoot(), "config", "appsettings.example.json"));
        var output = new StringWriter();

        Assert.Equal(0, ConfigCommands.Validate(file, TargetOsRules.Current, output));
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LispMobility.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
