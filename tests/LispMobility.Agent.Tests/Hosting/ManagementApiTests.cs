using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>The management API started for real (Kestrel on 127.0.0.1, a free port) and called over HTTP.</summary>
public sealed class ManagementApiTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-api-").FullName;
    private readonly ListLoggerProvider _logs = new();
    private WebApplication _app = null!;
    private ApiToken _token = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _token = ApiToken.Create(Path.Combine(_dir, "api-token"));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders().AddProvider(_logs);
        builder.AddManagementApi(new ManagementApiOptions { Port = 0 }, _token);
        _app = builder.Build();
        var api = _app.MapManagementApi();
        api.MapGet("/status", () => Results.Json(new { eids = 3 }));
        _app.Services.GetRequiredService<IMeterFactory>().Create("LispMobility.Test")
            .CreateCounter<long>("lispmobility_test_total", description: "A test counter.").Add(5);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(10) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Binds_to_loopback_by_default()
    {
        Assert.Equal("127.0.0.1", _http.BaseAddress!.Host);
        Assert.Equal("127.0.0.1", new ManagementApiOptions().BindAddress);
        Assert.Equal(4380, new ManagementApiOptions().Port);
    }

    [Fact]
    public async Task Healthz_answers_without_a_token()
    {
        using var response = await _http.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_answers_without_a_token_in_the_text_format()
    {
        using var refused = await Send("/api/status", null, null);
        using var response = await _http.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var text = await response.Content.ReadAsStringAsync();
        var families = PrometheusTextParser.Parse(text);
        // Only this host's meters: other tests' hosts in the same process keep theirs.
        Assert.Equal(5, families["lispmobility_test_total"].Samples.Single().Value);
        Assert.Equal("counter", families["lispmobility_management_api_unauthorized_total"].Type);
        Assert.Equal(1, families["lispmobility_management_api_unauthorized_total"].Samples.Single(s => s.Labels["reason"] == "missing").Value);
        Assert.Equal("lispmobility", families["target_info"].Samples.Single().Labels["service_name"]);
    }

    [Fact]
    public async Task Api_endpoints_need_the_bearer_token()
    {
        using var ok = await Send("/api/status", "Bearer", _token.Value);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("{\"eids\":3}", await ok.Content.ReadAsStringAsync());

        using var lowerCaseScheme = await Send("/api/status", "bearer", _token.Value);
        Assert.Equal(HttpStatusCode.OK, lowerCaseScheme.StatusCode);
    }

    [Theory]
    [InlineData(null, null, "missing")]
    [InlineData("Basic", "dXNlcjpwYXNz", "wrong_scheme")]
    [InlineData("Bearer", "not-the-token", "invalid_token")]
    public async Task Api_without_the_right_token_is_401_and_logged_without_the_secret(string? scheme, string? value, string reason)
    {
        using var response = await Send("/api/status", scheme, value);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer realm=\"lispmobility\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains(_logs.Lines, l => l.Contains("GET /api/status from 127.0.0.1: " + reason, StringComparison.Ordinal));
        Assert.DoesNotContain(_logs.Lines, l => l.Contains(_token.Value, StringComparison.Ordinal));
        var families = PrometheusTextParser.Parse(await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Contains(families["lispmobility_management_api_unauthorized_total"].Samples, s => s.Labels["reason"] == reason && s.Value >= 1);
    }

    [Theory]
    [InlineData("/API/status")]
    [InlineData("/Api/status/")]
    [InlineData("/api")]
    public async Task The_token_check_follows_routing_which_ignores_case(string path)
    {
        using var response = await Send(path, null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_CLI_client_reaches_the_api_with_the_token()
    {
        using var client = ManagementApi.CreateClient(new ManagementApiOptions { Port = _http.BaseAddress!.Port }, _token);

        Assert.Equal("{\"eids\":3}", await client.GetStringAsync(new Uri("api/status", UriKind.Relative)));
    }

    [Theory]
    [InlineData("0.0.0.0", "http://127.0.0.1:4380/")]
    [InlineData("::", "http://[::1]:4380/")]
    [InlineData("::1", "http://[::1]:4380/")]
    [InlineData("127.0.0.2", "http://127.0.0.2:4380/")]
    public void The_CLI_client_turns_a_wildcard_bind_into_loopback(string bind, string expected)
    {
        using var client = ManagementApi.CreateClient(new ManagementApiOptions { BindAddress = bind }, _token);
        Assert.Equal(expected, client.BaseAddress!.ToString());
    }

    [Fact]
    public async Task An_unknown_api_path_is_401_before_404_so_it_reveals_nothing()
    {
        using var anonymous = await Send("/api/nothing-here", null, null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var authorised = await Send("/api/nothing-here", "Bearer", _token.Value);
        Assert.Equal(HttpStatusCode.NotFound, authorised.StatusCode);
    }

    [Fact]
    public void Options_from_configuration_name_every_bad_key()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ManagementApi:BindAddress"] = "localhost",
            ["ManagementApi:Port"] = "70000",
            ["ManagementApi:TokenFile"] = "relative/token",
        }).Build();

        Assert.Null(ManagementApiOptions.FromConfiguration(config, out var errors));
        Assert.Collection(errors,
            e => Assert.StartsWith("ManagementApi:BindAddress: 'localhost'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("ManagementApi:Port: '70000'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("ManagementApi:TokenFile: 'relative/token'", e, StringComparison.Ordinal));

        var good = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ManagementApi:BindAddress"] = "::1",
            ["ManagementApi:Port"] = "4390",
        }).Build();
        Assert.Equal(new ManagementApiOptions { BindAddress = "::1", Port = 4390 }, ManagementApiOptions.FromConfiguration(good, out var none));
        Assert.Empty(none);
    }

    private async Task<HttpResponseMessage> Send(string path, string? scheme, string? value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (scheme is not null) request.Headers.Authorization = new AuthenticationHeaderValue(scheme, value);
        return await _http.SendAsync(request);
    }

    private sealed class ListLoggerProvider : ILoggerProvider
    {
        private readonly ListLogger<object> _logger = new();

        public IReadOnlyList<string> Lines => _logger.Lines;

        public ILogger CreateLogger(string categoryName) => _logger;

        public void Dispose() { }
    }
}
