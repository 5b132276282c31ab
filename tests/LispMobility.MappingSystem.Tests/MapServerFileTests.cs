using System.Text.Json;
using LispMobility.Lisp.Auth;
using LispMobility.MappingSystem.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace LispMobility.MappingSystem.Tests;

/// <summary>The native Map-Server's configuration reader reads what the agent's binder reads, and refuses what it refuses.</summary>
public sealed class MapServerFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ms-file-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }

        throw new FileNotFoundException(relative);
    }

    private static string Canonical(MapServerOptions options) =>
        JsonSerializer.Serialize(options, new JsonSerializerOptions { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } });

    [Theory]
    [InlineData("config/appsettings.example.json")]
    [InlineData("config/appsettings.windows.example.json")]
    public void Reads_the_example_configuration_as_the_agent_binder_does(string relative)
    {
        var path = RepositoryFile(relative);
        var root = new ConfigurationBuilder().AddJsonFile(path).Build();
        var bound = root.GetSection("MapServer").Get<MapServerOptions>(o => o.ErrorOnUnknownConfiguration = true)!;
        var errors = new List<string>();

        var read = MapServerFile.Load(path, out _, errors);

        Assert.Empty(errors);
        Assert.NotNull(read);
        Assert.NotEmpty(read.Sites);
        Assert.Equal(Canonical(bound), Canonical(read));
    }

    [Fact]
    public void Keeps_defaults_for_absent_keys_and_takes_case_insensitive_keys_comments_and_the_log_level()
    {
        File.WriteAllText(_path, """
            { "log": { "minimumLevel": "Warning", "File": false }, "Xtr": { "Whatever": 1 },
              // a comment, as the agent's files may have
              "mapserver": { "listen": [ "127.0.0.1:14342" ], "mapNotifyPort": 0,
                "sites": [ { "name": "bench", "eidPrefixes": [ { "prefix": "10.0.0.0/8", "acceptMoreSpecifics": true } ],
                  "keys": [ { "keyId": 2, "algorithm": "HmacSha1_96", "key": "k" } ] } ] } }
            """);
        var errors = new List<string>();

        var read = MapServerFile.Load(_path, out var level, errors);

        Assert.Empty(errors);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal(["127.0.0.1:14342"], read!.Listen);
        Assert.Equal(0, read.MapNotifyPort);
        Assert.Equal(new MapServerOptions().RegistrationTimeout, read.RegistrationTimeout);
        Assert.Equal(new MapServerOptions().ReplayWindowSize, read.ReplayWindowSize);
        var key = Assert.Single(Assert.Single(read.Sites).Keys);
        Assert.Equal((byte)2, key.KeyId);
        Assert.Equal(AuthAlgorithm.HmacSha1_96, key.Algorithm);
        Assert.True(read.Sites[0].EidPrefixes[0].AcceptMoreSpecifics);
        Assert.Equal(ReplayProtection.Window, read.Sites[0].ReplayProtection);
    }

    [Theory]
    [InlineData("""{ "MapServer": { "Sites": [ { "Name": "a", "Keyz": [] } ] } }""", "Keyz")]
    [InlineData("""{ "MapServer": { "Listen": [ "127.0.0.1:1" ] } }""", "Sites")]
    [InlineData("""{ "Log": { "MinimumLevel": "Loud" }, "MapServer": { "Sites": [ { "Name": "a", "EidPrefixes": [ { "Prefix": "10.0.0.0/8" } ], "Keys": [ { "KeyId": 1, "Key": "k" } ] } ] } }""", "Loud")]
    [InlineData("""{ "Xtr": { } }""", "MapServer: section missing")]
    [InlineData("""{ "MapServer": { "MapNotifyPort": "many" } }""", "MapNotifyPort")]
    public void Refuses_unknown_keys_invalid_values_and_a_missing_section(string json, string expected)
    {
        File.WriteAllText(_path, json);
        var errors = new List<string>();

        Assert.Null(MapServerFile.Load(_path, out _, errors));
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}
