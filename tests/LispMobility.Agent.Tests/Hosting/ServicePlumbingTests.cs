using Microsoft.Extensions.Logging;
using LispMobility.Agent.Hosting;
using LispMobility.Agent.Logging;
using LispMobility.Agent.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>The whole plumbing as <c>lispmobility run</c> would use it: real Kestrel, real sockets, real log file.</summary>
public sealed class ServicePlumbingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-plumbing-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_valid_configuration_gives_a_service_that_logs_and_serves_the_API_with_the_libraries_lifetime()
    {
        var tokenFile = Path.Combine(_dir, "api-token");
        var token = ApiToken.Create(tokenFile);
        var logDir = Path.Combine(_dir, "logs");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:Directory"] = logDir,
            ["Log:Console"] = "false",
            ["ManagementApi:Port"] = "0",
            ["ManagementApi:TokenFile"] = tokenFile,
        });

        var errors = builder.AddServicePlumbing(new LoggingEnvironment(false, false), new SystemdWatchdogEnvironment(TimeSpan.FromSeconds(5)));

        Assert.Empty(errors);
        await using (var app = builder.Build())
        {
            // Neither systemd nor the Service Control Manager started the test: both libraries leave the console lifetime.
            Assert.IsType<ConsoleLifetime>(app.Services.GetRequiredService<IHostLifetime>());
            Assert.Single(app.Services.GetServices<IHostedService>().OfType<SystemdWatchdog>());
            app.MapManagementApi().MapGet("/ping", () => "pong");
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", token.Value);
            Assert.Equal("pong", await http.GetStringAsync(new Uri("/api/ping", UriKind.Relative)));
            await app.StopAsync();
        }

        var log = await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(logDir, "lispmobility-*.log")));
        Assert.Contains("Application started", log, StringComparison.Ordinal);
        // Microsoft.AspNetCore's per-request lines stay out below Warning.
        Assert.DoesNotContain("Request starting", log, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Value, log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Debug")]
    [InlineData("Information")]
    public async Task Log_MinimumLevel_is_the_one_filter_and_lines_carry_the_event_id(string level)
    {
        var tokenFile = Path.Combine(_dir, "api-token");
        ApiToken.Create(tokenFile);
        var logDir = Path.Combine(_dir, "logs-" + level);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:Directory"] = logDir, ["Log:Console"] = "false", ["Log:MinimumLevel"] = level,
            ["ManagementApi:Port"] = "0", ["ManagementApi:TokenFile"] = tokenFile,
        });
        Assert.Empty(builder.AddServicePlumbing(new LoggingEnvironment(false, false), new SystemdWatchdogEnvironment(null)));

        await using (var app = builder.Build())
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LispMobility.Test");
            logger.LogDebug(new EventId(3999, "Probe"), "registered {Eid}", "10.1.0.5/32");
            logger.LogError(new EventId(3998, "Failed"), new TimeoutException("no reply from 192.0.2.1"), "lookup of {Eid} failed", "10.1.0.6");
        }

        var lines = await File.ReadAllLinesAsync(Assert.Single(Directory.GetFiles(logDir, "lispmobility-*.log")));
        var debug = lines.Where(l => l.Contains("[DBG] LispMobility.Test[3999]: registered 10.1.0.5/32", StringComparison.Ordinal)).ToList();
        Assert.Equal(level == "Debug" ? 1 : 0, debug.Count);
        Assert.Contains(lines, l => l.EndsWith("[ERR] LispMobility.Test[3998]: lookup of 10.1.0.6 failed" +
                                                (level == "Debug" ? "" : " (TimeoutException: no reply from 192.0.2.1)"), StringComparison.Ordinal));
        // The stack trace follows on its own lines at Debug only.
        Assert.Equal(level == "Debug", lines.Any(l => l.StartsWith("System.TimeoutException: no reply from 192.0.2.1", StringComparison.Ordinal)));
    }

    [Fact]
    public void Validation_alone_names_every_bad_key_without_touching_files()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:RetainedFileCount"] = "-1",
            ["ManagementApi:Port"] = "http",
            ["ManagementApi:TokenFile"] = Path.Combine(_dir, "missing-token"),
            ["Metrics:OtlpEndpoint"] = "collector:4317",
            ["Metrics:OtlpProtocol"] = "udp",
        }).Build();

        var errors = ServicePlumbing.ValidateConfiguration(config);

        Assert.Collection(errors,
            e => Assert.StartsWith("Log:RetainedFileCount: '-1'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("ManagementApi:Port: 'http'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Metrics:OtlpEndpoint: 'collector:4317'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Metrics:OtlpProtocol: 'udp'", e, StringComparison.Ordinal));
        var otlp = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Metrics:OtlpEndpoint"] = "http://collector:4317" }).Build();
        Assert.Equal(new Uri("http://collector:4317"), MetricsOptions.FromConfiguration(otlp, out _)!.OtlpEndpoint);
        Assert.Empty(ServicePlumbing.ValidateConfiguration(new ConfigurationBuilder().Build()));
    }

    [Fact]
    public void Every_problem_is_reported_at_once_and_nothing_is_wired()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:MinimumLevel"] = "Chatty",
            ["ManagementApi:TokenFile"] = Path.Combine(_dir, "missing-token"),
        });

        var errors = builder.AddServicePlumbing(new LoggingEnvironment(false, false), new SystemdWatchdogEnvironment(null));

        Assert.Collection(errors,
            e => Assert.StartsWith("Log:MinimumLevel: 'Chatty'", e, StringComparison.Ordinal),
            e => Assert.Equal($"ManagementApi:TokenFile: API token file {Path.Combine(_dir, "missing-token")} does not exist (the installer creates it)", e));
        Assert.DoesNotContain(builder.Services, d => d.ServiceType == typeof(ApiToken));
    }
}
