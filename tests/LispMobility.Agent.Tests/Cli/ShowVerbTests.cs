using System.Text.Json;
using LispMobility.Agent.Cli;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>The show verbs against a live agent (dc1, embedded Map-Server with sites dc1 and dc2): what an engineer reads, and --json.</summary>
public sealed class ShowVerbTests : IAsyncLifetime
{
    private const int ApiPort = 4399;
    private InProcessAgent _agent = null!;

    public async Task InitializeAsync()
    {
        _agent = await InProcessAgent.StartAsync("show", p => $$"""
            {
              "MapServer": { "Listen": ["127.91.8.9:4342"], "Sites": [
                { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true }, { "Prefix": "172.16.5.0/24" } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
                { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
              "Xtr": { "Site": "dc1", "Listen": ["127.91.8.1:4342"], "Rlocs": [ { "Address": "127.91.8.1", "Priority": 1, "Weight": 100 } ],
                "MapServers": [ { "Address": "127.91.8.9:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.8.9:4342"],
                "DatabaseMappings": ["172.16.5.0/24"] },
              "Mobility": { "Database": "{{p.Database}}",
                "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc2", "Sites": ["dc1", "dc2"] } ] },
              "Agent": { "RouteTable": "memory" },
              "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{p.TokenFile}}" },
              "Log": { "File": false, "Console": false, "Journald": "false" }
            }
            """);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await _agent.Api.GetStringAsync(new Uri("/api/registrations", UriKind.Relative))).Contains("172.16.5.0/24\"", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "dc1 never registered its aggregate");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    private async Task<string[]> Show(string verb, string? eid = null)
    {
        var (path, render) = verb switch
        {
            "registrations" => ("/api/registrations", (Action<JsonElement, TextWriter>)ShowViews.Registrations),
            "database" => ("/api/database", ShowViews.Database),
            "eids" => ("/api/eids", ShowViews.Eids),
            _ => ("/api/map-cache" + (eid is null ? "" : $"?eid={eid}"), ShowViews.MapCache),
        };
        var output = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, path, json: false, render, output, CancellationToken.None));
        return output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task Registrations_read_like_show_lisp_site()
    {
        var lines = await Show("registrations");

        Assert.Matches(@"^Site dc1: up, 1 registration\(s\), last registered 00:00:\d\d ago; configured 172\.16\.4\.0/24 accept-more-specifics, 172\.16\.5\.0/24$", lines[0]);
        Assert.Matches(@"^EID-PREFIX {5}LAST REGISTER  EXPIRES IN  RLOCS {7}WHO LAST REGISTERED  PROXY$", lines[1]);
        Assert.Matches(@"^172\.16\.5\.0/24  00:00:\d\d {7}00:0[23]:\d\d    127\.91\.8\.1  127\.91\.8\.1:\d+ +no$", lines[2]);
        Assert.Equal("Site dc2: down (no registration); configured 172.16.4.0/24 accept-more-specifics", lines[3]);
        Assert.Matches(@"^Map-Server: [1-9]\d* Map-Register\(s\) accepted, \d+ Map-Notify\(s\) sent, 0 expired; refused: none$", lines[4]);
    }

    [Fact]
    public async Task Database_lists_what_this_etr_registers_with_its_locators()
    {
        var lines = await Show("database");

        Assert.Matches(@"^LISP ETR database of site dc1; last Map-Notify 00:00:\d\d ago$", lines[0]);
        Assert.Matches(@"^EID-PREFIX +KIND +RANGE +STATE +UPTIME +LOCATORS \(PRIORITY/WEIGHT STATE\)$", lines[1]);
        Assert.Matches(@"^172\.16\.5\.0/24  aggregate +Registered +127\.91\.8\.1 1/100 up$", lines[2]);
    }

    [Fact]
    public async Task Map_cache_shows_uptime_expiry_and_locator_state_and_filters_by_eid()
    {
        Assert.True((await _agent.Api.GetAsync(new Uri("/api/lookup?eid=172.16.5.7", UriKind.Relative))).IsSuccessStatusCode);

        var lines = await Show("map-cache");
        Assert.Equal("LISP IPv4/IPv6 Mapping Cache, 1 entries", lines[0]);
        Assert.Matches(@"^EID-PREFIX +UPTIME +EXPIRES IN +LAST USED +VIA +ACTION +LOCATORS \(PRIORITY/WEIGHT STATE\)$", lines[1]);
        Assert.Matches(@"^172\.16\.5\.0/24  00:00:\d\d  23:5\d:\d\d    00:00:\d\d ago  map-reply  forward  127\.91\.8\.1 1/100 up$", lines[2]);

        Assert.Equal(3, (await Show("map-cache", "172.16.5.7")).Length);
        Assert.Equal(["LISP IPv4/IPv6 Mapping Cache, 0 entries", "EID-PREFIX  UPTIME  EXPIRES IN  LAST USED  VIA  ACTION  LOCATORS (PRIORITY/WEIGHT STATE)"], await Show("map-cache", "10.9.9.9"));

        var json = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, "/api/map-cache", json: true, [], json, CancellationToken.None));
        using var doc = JsonDocument.Parse(json.ToString());
        Assert.Equal("map-reply", doc.RootElement[0].GetProperty("learnedBy").GetString());
    }

    private async Task<(int Exit, string Output)> Clear(string? eid)
    {
        var output = new StringWriter();
        var exit = await ClientCommands.ShowAsync(_agent.Config, "/api/map-cache" + (eid is null ? "" : $"?eid={eid}"), json: false, ShowViews.Cleared, output,
            CancellationToken.None, HttpMethod.Delete);
        return (exit, output.ToString().Trim());
    }

    [Fact]
    public async Task Clear_map_cache_removes_one_eids_entry_or_all()
    {
        // Two entries: dc1's aggregate, and a negative one for an EID nobody registered in dc2's range.
        Assert.True((await _agent.Api.GetAsync(new Uri("/api/lookup?eid=172.16.5.7", UriKind.Relative))).IsSuccessStatusCode);
        Assert.True((await _agent.Api.GetAsync(new Uri("/api/lookup?eid=172.16.4.9", UriKind.Relative))).IsSuccessStatusCode);
        Assert.Equal("LISP IPv4/IPv6 Mapping Cache, 2 entries", (await Show("map-cache"))[0]);

        Assert.Equal((0, "Cleared 1 map-cache entry: 172.16.5.0/24"), await Clear("172.16.5.7"));
        var left = await Show("map-cache");
        Assert.Equal("LISP IPv4/IPv6 Mapping Cache, 1 entries", left[0]);
        Assert.DoesNotContain(left, l => l.StartsWith("172.16.5.0/24", StringComparison.Ordinal));

        var all = await Clear(null);
        Assert.Equal(0, all.Exit);
        Assert.StartsWith("Cleared 1 map-cache entry: 172.16.4.", all.Output, StringComparison.Ordinal);
        Assert.Equal("LISP IPv4/IPv6 Mapping Cache, 0 entries", (await Show("map-cache"))[0]);
        Assert.Equal((0, "No map-cache entry to clear"), await Clear(null));
        Assert.Equal(1, (await Clear("banana")).Exit);
    }

    [Fact]
    public async Task Every_show_verb_answers_json_for_scripts()
    {
        foreach (var path in new[] { "/api/registrations", "/api/database", "/api/eids", "/api/map-cache", "/api/status" })
        {
            var output = new StringWriter();
            Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, path, json: true, [], output, CancellationToken.None));
            using var doc = JsonDocument.Parse(output.ToString());
        }

        var status = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, "/api/status", json: false, [], status, CancellationToken.None));
        Assert.Contains("site:", status.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("{", status.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_log_level_changes_at_run_time_through_the_api()
    {
        var output = new StringWriter();
        Assert.Equal(0, await ClientCommands.ShowAsync(_agent.Config, "/api/log-level?level=Debug", json: false,
            (r, o) => o.WriteLine(r.GetProperty("level").GetString()), output, CancellationToken.None, HttpMethod.Put));
        Assert.Equal("Debug", output.ToString().Trim());
        Assert.Equal("{\"level\":\"Debug\"}", await _agent.Api.GetStringAsync(new Uri("/api/log-level", UriKind.Relative)));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await _agent.Api.PutAsync(new Uri("/api/log-level?level=Loud", UriKind.Relative), null)).StatusCode);
        await _agent.Api.PutAsync(new Uri("/api/log-level?level=Information", UriKind.Relative), null);
    }

    [Theory]
    [InlineData(0, "00:00:00")]
    [InlineData(192, "00:03:12")]
    [InlineData(86399, "23:59:59")]
    [InlineData(187200, "2d04h")]
    public void Ages_are_written_as_engineers_write_them(int seconds, string expected) =>
        Assert.Equal(expected, Durations.Age(TimeSpan.FromSeconds(seconds)));
}
