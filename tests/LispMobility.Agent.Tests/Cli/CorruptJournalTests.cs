using LispMobility.Agent.Security;
using LispMobility.Agent.Service;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>`lispmobility run` on a corrupt move journal refuses to start (exit 1) before anything binds or starts.</summary>
public sealed class CorruptJournalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lispmobility-corrupt-").FullName;

    [Fact]
    public async Task The_agent_refuses_to_start_on_a_file_that_is_not_a_database_and_leaves_it_as_it_was()
    {
        var database = Path.Combine(_dir, "agent.db").Replace("\\", "/", StringComparison.Ordinal);
        await File.WriteAllTextAsync(database, "not a database");
        var token = Path.Combine(_dir, "token");
        ApiToken.Create(token);
        var config = Path.Combine(_dir, "agent.json");
        await File.WriteAllTextAsync(config, $$"""
        {
          "Xtr": { "Site": "dc1", "Listen": ["127.91.8.1:4342"], "Rlocs": [ { "Address": "127.91.8.1" } ],
            "MapServers": [ { "Address": "127.91.8.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.8.9:4342"],
            "DatabaseMappings": ["172.16.5.0/24"], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24" } ] },
          "Mobility": { "Database": "{{database}}", "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.5.0/24", "HomeSite": "dc1", "Sites": ["dc1"] } ] },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": 4397, "TokenFile": "{{token.Replace("\\", "/", StringComparison.Ordinal)}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);

        var exit = await RunCommand.RunAsync(new FileInfo(config), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exit);
        Assert.Equal("not a database", await File.ReadAllTextAsync(database));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
