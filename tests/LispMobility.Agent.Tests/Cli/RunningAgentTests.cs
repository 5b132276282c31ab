using System.Net;
using System.Text.Json;
using LispMobility.Agent.Cli;
using LispMobility.Agent.Service;

namespace LispMobility.Agent.Tests.Cli;

/// <summary>`lispmobility run` in-process on loopback, and the CLI verbs against it through the management API.</summary>
public sealed class RunningAgentTests : IAsyncLifetime
{
    private const int ApiPort = 4391;
    private readonly string _dir = Directory.CreateTempSubdirectory("lispmobility-agent-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private Task<int>? _agent;
    private FileInfo _config = null!;

    public async Task InitializeAsync()
    {
        var token = Path.Combine(_dir, "token");
        Agent.Security.ApiToken.Create(token);
        _config = new FileInfo(Path.Combine(_dir, "agent.json"));
        await File.WriteAllTextAsync(_config.FullName, $$"""
        {
          "MapServer": { "Listen": ["127.91.0.1:4342"], "Sites": [
            { "Name": "dc1", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k1" } ] },
            { "Name": "dc2", "EidPrefixes": [ { "Prefix": "172.16.4.0/24", "AcceptMoreSpecifics": true } ], "Keys": [ { "KeyId": 1, "Key": "k2" } ] } ] },
          "Xtr": { "Site": "dc1", "Listen": ["127.91.1.1:4342"], "Rlocs": [ { "Address": "127.91.1.1" } ],
            "MapServers": [ { "Address": "127.91.0.1:4342", "KeyId": 1, "Key": "k1" } ], "MapResolvers": ["127.91.0.1:4342"],
            "DatabaseMappings": ["172.16.4.0/24"], "DynamicEids": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24" } ] },
          "Mobility": { "Database": "{{Path.Combine(_dir, "agent.db").Replace("\\", "/", StringComparison.Ordinal)}}",
            "Ranges": [ { "Name": "vm-web", "Prefix": "172.16.4.0/24", "HomeSite": "dc1", "Sites": ["dc1", "dc2"] } ], "ReconcileInterval": "00:00:01" },
          "Agent": { "RouteTable": "memory" },
          "ManagementApi": { "BindAddress": "127.0.0.1", "Port": {{ApiPort}}, "TokenFile": "{{token.Replace("\\", "/", StringComparison.Ordinal)}}" },
          "Log": { "File": false, "Console": false, "Journald": "false" }
        }
        """);
        _agent = RunCommand.RunAsync(_config, _stop.Token);
        using var http = new HttpClient();
        for (var i = 0; i < 200; i++)
        {
            if (_agent.IsCompleted) Assert.Fail($"the agent exited with {await _agent}");
            try
            {
                if ((await http.GetAsync(new Uri($"http://127.0.0.1:{ApiPort}/healthz"))).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        Assert.Fail("the agent's management API never answered");
    }

    [Fact]
    public async Task Status_reports_the_site_and_an_acknowledging_map_server()
    {
        var json = await Eventually(async () =>
        {
            var text = await Verb("/api/status");
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.GetProperty("mapServers")[0].GetProperty("lastAcknowledged").ValueKind == JsonValueKind.String ? text : null;
        });
        using var status = JsonDocument.Parse(json);
        Assert.Equal("dc1", status.RootElement.GetProperty("site").GetString());
        Assert.Equal(1, status.RootElement.GetProperty("embeddedMapServer").GetProperty("registrations").GetInt32());
    }

    [Fact]
    public async Task Registrations_list_the_aggregate_and_lookup_through_the_agent_answers_it()
    {
        var registrations = await Eventually(async () => { var t = await Verb("/api/registrations"); return t.Contains("172.16.4.0/24", StringComparison.Ordinal) ? t : null; });
        Assert.Contains("\"site\": \"dc1\"", registrations, StringComparison.Ordinal);

        var lookup = await Verb("/api/lookup?eid=172.16.4.20");
        using var doc = JsonDocument.Parse(lookup);
        Assert.Equal("172.16.4.0/24", doc.RootElement.GetProperty("eid").GetString());
        Assert.Equal("127.91.1.1", doc.RootElement.GetProperty("rlocs")[0].GetString());
    }

    [Fact]
    public async Task Lig_asks_the_map_resolver_directly()
    {
        await Eventually(async () => { var t = await Verb("/api/registrations"); return t.Contains("172.16.4.0/24", StringComparison.Ordinal) ? t : null; });
        var output = new StringWriter();

        var exit = await LigCommand.RunAsync(IPAddress.Parse("172.16.4.30"), IPEndPoint.Parse("127.91.0.1:4342"), new LigOptions(), output, CancellationToken.None);

        Assert.Equal(0, exit);
        Assert.Contains("172.16.4.0/24", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("127.91.1.1", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lig_answers_json_from_the_source_it_is_given()
    {
        await Eventually(async () => { var t = await Verb("/api/registrations"); return t.Contains("172.16.4.0/24", StringComparison.Ordinal) ? t : null; });
        var output = new StringWriter();

        var exit = await LigCommand.RunAsync(IPAddress.Parse("172.16.4.30"), IPEndPoint.Parse("127.91.0.1:4342"),
            new LigOptions(Source: IPAddress.Parse("127.91.1.77"), Json: true), output, CancellationToken.None);

        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output.ToString());
        Assert.True(doc.RootElement.GetProperty("answered").GetBoolean());
        Assert.Equal("172.16.4.0/24", doc.RootElement.GetProperty("records")[0].GetProperty("eid").GetString());
        Assert.Equal("127.91.1.1", doc.RootElement.GetProperty("records")[0].GetProperty("rlocs")[0].GetProperty("address").GetString());
        Assert.Equal(2, await LigCommand.RunAsync(IPAddress.Parse("172.16.4.30"), IPEndPoint.Parse("127.91.0.1:4342"),
            new LigOptions(Source: IPAddress.IPv6Loopback), new StringWriter(), CancellationToken.None));
    }

    [Fact]
    public async Task Lig_looks_up_an_ipv6_eid_through_an_ipv4_map_resolver()
    {
        var output = new StringWriter();

        var exit = await LigCommand.RunAsync(IPAddress.Parse("2001:db8::1"), IPEndPoint.Parse("127.91.0.1:4342"), new LigOptions(), output, CancellationToken.None);

        Assert.Equal(0, exit);
        Assert.StartsWith("Mapping entry for EID '2001:db8::1', from 127.91.0.1:4342", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("negative", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lig_sends_count_requests_each_waiting_timeout_then_fails()
    {
        var output = new StringWriter();
        var watch = System.Diagnostics.Stopwatch.StartNew();

        // Nothing listens there: every Map-Request goes unanswered.
        var exit = await LigCommand.RunAsync(IPAddress.Parse("172.16.4.30"), IPEndPoint.Parse("127.91.0.77:4342"),
            new LigOptions(Count: 2, Timeout: TimeSpan.FromMilliseconds(200)), output, CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Equal(["no reply from 127.91.0.77:4342 within 0.2 s (attempt 1 of 2)", "no reply from 127.91.0.77:4342 within 0.2 s (attempt 2 of 2)"],
            output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Failover_dry_run_and_moves_answer_as_json()
    {
        var output = new StringWriter();
        Assert.Equal(0, await FailoverCommand.RunAsync(_config, "dc2", "dc1", dryRun: true, force: false, ["172.16.4.40"], json: true, output, CancellationToken.None));
        Assert.Contains("\"dryRun\": true", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("172.16.4.40", output.ToString(), StringComparison.Ordinal);

        Assert.Equal("[]", (await Verb("/api/moves?eid=172.16.4.40")).Replace("\n", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_reconciler_runs_at_start_and_then_every_reconcile_interval_as_a_quartz_job()
    {
        using var http = new HttpClient();
        var metrics = await Eventually(async () =>
        {
            var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{ApiPort}/metrics"));
            return text.Contains("lispmobility_reconciliation_passes_total{cause=\"periodic\"}", StringComparison.Ordinal) ? text : null;
        });

        Assert.Contains("lispmobility_reconciliation_passes_total{cause=\"start\"} 1\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failover_runs_in_the_agent_and_the_cli_follows_it_to_a_verified_report()
    {
        await Eventually(async () => { var t = await Verb("/api/registrations"); return t.Contains("172.16.4.0/24", StringComparison.Ordinal) ? t : null; });
        var output = new StringWriter();

        var exit = await FailoverCommand.RunAsync(_config, "dc2", "dc1", dryRun: false, force: false, ["172.16.4.41", "172.16.4.42"], json: true, output, CancellationToken.None);

        Assert.True(exit == 0, output.ToString());
        Assert.Contains("\"converged\": true", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"verified\": 2", output.ToString(), StringComparison.Ordinal);
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{ApiPort}/metrics"));
        // The lines operators and the lab tests grep, as OpenTelemetry's Prometheus exporter writes them (a series without
        // labels carries an empty "{}").
        Assert.Contains("lispmobility_moves_total{outcome=\"converged\"} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("lispmobility_move_convergence_seconds_count{} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("lispmobility_move_convergence_seconds_bucket{le=\"+Inf\"} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("lispmobility_registrations{} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("lispmobility_rejected_packets{component=\"map-server\",reason=\"AuthenticationFailed\"} 0\n", metrics, StringComparison.Ordinal);
        var families = Hosting.PrometheusTextParser.Parse(metrics);
        // The buckets are the instrument's advice, cumulative, ending in +Inf.
        var buckets = families["lispmobility_move_convergence_seconds"].Samples.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
        Assert.Equal(["0.005", "0.01", "0.02", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"], buckets.Select(b => b.Labels["le"]));
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value));
        Assert.Equal("histogram", families["lispmobility_saga_step_seconds"].Type);
        Assert.Contains(families["lispmobility_saga_step_seconds"].Samples, s => s.Name == "lispmobility_saga_step_seconds_count" && s.Labels["step"] == "Registered" && s.Value == 2);
        Assert.Equal("gauge", families["lispmobility_dynamic_hosts"].Type);
        var moves = await Verb("/api/moves?eid=172.16.4.41");
        Assert.Contains("dr-failover", moves, StringComparison.Ordinal);
        Assert.Contains("converged", moves, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_refuses_a_request_without_the_token()
    {
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{ApiPort}/api/status"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task<string> Verb(string path)
    {
        var output = new StringWriter();
        var exit = await ClientCommands.ShowAsync(_config, path, json: true, [], output, CancellationToken.None);
        Assert.True(exit == 0, $"{path} exited {exit}: {output}");
        return output.ToString();
    }

    private static async Task<string> Eventually(Func<Task<string?>> probe)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await probe() is { } result) return result;
            await Task.Delay(50);
        }

        throw new TimeoutException("condition never held");
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_agent is not null) Assert.Equal(0, await _agent.WaitAsync(TimeSpan.FromSeconds(20)));
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
