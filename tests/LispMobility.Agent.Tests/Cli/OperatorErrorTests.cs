using LispMobility.Agent.Cli;
using LispMobility.Agent.Service;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>What an operator gets wrong gives one line saying what and what to do — never a stack trace.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class OperatorErrorTests : IAsyncLifetime
{
    private const int ApiPort = 4396;
    private InProcessAgent _agent = null!;

    public async Task InitializeAsync() => _agent = await InProcessAgent.StartAsync("operator", p => $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["127.91.6.1:4342"], "Rlocs": [ { "Address": "127.91.6.1" } ],
            "MapServers": [ { "Address": "127.91.6.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.6.9:4342"],
            "DatabaseMappings": ["172.16.5.0/24"] },
          "Mobility": { "Database": "{{p.Database}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    [Fact]
    public async Task A_second_agent_on_the_same_configuration_says_so_in_one_line()
    {
        var (exit, _, error) = await ConsoleCapture.RunAsync(() => RunCommand.RunAsync(_agent.Config, CancellationToken.None));

        Assert.Equal(1, exit);
        var line = Assert.Single(error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("lispmobility: ", line, StringComparison.Ordinal);
        Assert.Contains("most likely a second `lispmobility run` on the same configuration", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_token_is_a_401_that_says_what_to_do()
    {
        var other = new FileInfo(Path.Combine(_agent.Config.DirectoryName!, "other.json"));
        var token = Path.Combine(_agent.Config.DirectoryName!, "other-token").Replace("\\", "/", StringComparison.Ordinal);
        Agent.Security.ApiToken.Create(token);
        await File.WriteAllTextAsync(other.FullName, $$"""{ "ManagementApi": { "Port": {{ApiPort}}, "TokenFile": "{{token}}" } }""");

        var (exit, _, error) = await ConsoleCapture.RunAsync(() => ClientCommands.ShowAsync(other, "/api/status", json: false, [], Console.Out, CancellationToken.None));

        Assert.Equal(1, exit);
        Assert.Equal($"lispmobility: 401 Unauthorized: the agent refused the API token (ManagementApi.TokenFile of {other.FullName}); use the --config of the running agent, " +
                     "or run as a user who can read its token file (sudo), or restart the agent after re-creating the token", error.Trim());
    }

    [Fact]
    public async Task Failover_with_the_agent_down_says_the_api_does_not_answer()
    {
        var down = new FileInfo(Path.Combine(_agent.Config.DirectoryName!, "down.json"));
        var token = Path.Combine(_agent.Config.DirectoryName!, "token").Replace("\\", "/", StringComparison.Ordinal);
        await File.WriteAllTextAsync(down.FullName, $$"""{ "ManagementApi": { "Port": 4397, "TokenFile": "{{token}}" } }""");

        var (exit, _, error) = await ConsoleCapture.RunAsync(() => FailoverCommand.RunAsync(down, "dc1", "dc2", dryRun: false, force: false, [], json: false, Console.Out, CancellationToken.None));

        Assert.Equal(1, exit);
        Assert.Matches(@"^lispmobility: the agent's management API at http://127\.0\.0\.1:4397/ does not answer: .+ \(is `lispmobility run` running with this --config\?\)$", error.Trim());
    }

    [Fact]
    public async Task Map_server_on_an_address_this_host_lacks_says_which_addresses_to_use()
    {
        var file = new FileInfo(Path.Combine(_agent.Config.DirectoryName!, "ms.json"));
        await File.WriteAllTextAsync(file.FullName, """
            { "MapServer": { "Listen": ["192.0.2.99:4342"], "Sites": [ { "Name": "a", "EidPrefixes": [ { "Prefix": "10.0.0.0/8" } ], "Keys": [ { "KeyId": 1, "Key": "k" } ] } ] } }
            """);

        var (exit, _, error) = await ConsoleCapture.RunAsync(() => ConfigCommands.RunMapServerAsync(file, CancellationToken.None));

        Assert.Equal(1, exit);
        Assert.Equal("lispmobility map-server: cannot bind UDP 192.0.2.99:4342: Cannot assign requested address: that address is not on this host; " +
                     "use one `ip addr` lists (or 0.0.0.0) in the Listen settings", error.Trim());
    }
}
