using LispMobility.Agent.Logging;
using LispMobility.Agent.Tests.Hosting;
using Microsoft.Extensions.Configuration;
using Serilog.Events;

namespace LispMobility.Agent.Tests.Logging;

public sealed class LoggingSetupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lm-logs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Under_systemd_the_journal_replaces_the_console_and_the_file_stays()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        var options = new LogOptions { Directory = _dir, JournalSocket = journal.Address };

        Assert.Equal(["file", "journald"], LoggingSetup.ChooseSinks(options, new LoggingEnvironment(IsWindows: false, UnderSystemd: true)));
        Assert.Equal(["console", "file"], LoggingSetup.ChooseSinks(options, new LoggingEnvironment(IsWindows: false, UnderSystemd: false)));
        Assert.Equal(["console", "file", "eventlog"], LoggingSetup.ChooseSinks(options, new LoggingEnvironment(IsWindows: true, UnderSystemd: false)));
        Assert.Equal(["console", "file", "journald"],
            LoggingSetup.ChooseSinks(options with { Journald = true }, new LoggingEnvironment(false, false)));
        Assert.Equal(["console", "file"],
            LoggingSetup.ChooseSinks(options with { Journald = false }, new LoggingEnvironment(false, true)));
    }

    [Fact]
    public void Under_systemd_without_a_journal_socket_the_console_stays()
    {
        var options = new LogOptions { Directory = _dir, JournalSocket = Path.Combine(_dir, "no-socket") };
        Assert.Equal(["console", "file"], LoggingSetup.ChooseSinks(options, new LoggingEnvironment(false, true)));
    }

    [Fact]
    public void The_built_logger_writes_the_rolling_file_and_the_journal()
    {
        using var journal = UnixDatagramReceiver.AtTempPath();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:Directory"] = _dir,
            ["Log:JournalSocket"] = journal.Address,
            ["Log:MinimumLevel"] = "Debug",
        }).Build();
        var options = LogOptions.FromConfiguration(config, out var errors)!;
        Assert.Empty(errors);

        using (var logger = LoggingSetup.CreateLogger(options, new LoggingEnvironment(false, UnderSystemd: true), config))
        {
            logger.ForContext("SourceContext", "LispMobility.Test").Debug("registered {Eid}", "10.1.0.5/32");
            logger.Verbose("below the minimum");
        }

        var file = Assert.Single(Directory.GetFiles(_dir, "lispmobility-*.log"));
        var line = Assert.Single(File.ReadAllLines(file));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[DBG\] LispMobility.Test: registered 10.1.0.5/32$", line);
        var fields = JournaldSinkTests.Decode(journal.Receive(TimeSpan.FromSeconds(5))!);
        Assert.Equal("registered 10.1.0.5/32", fields["MESSAGE"]);
        Assert.Equal("7", fields["PRIORITY"]);
        Assert.Null(journal.Receive(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void Serilog_section_overrides_a_category_level()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Serilog:MinimumLevel:Override:Noisy"] = "Error",
        }).Build();
        var options = new LogOptions { Directory = _dir, Console = false };

        using (var logger = LoggingSetup.CreateLogger(options, new LoggingEnvironment(false, false), config))
        {
            logger.ForContext("SourceContext", "Noisy").Warning("suppressed");
            logger.ForContext("SourceContext", "Quiet").Warning("kept");
        }

        var text = File.ReadAllText(Assert.Single(Directory.GetFiles(_dir)));
        Assert.DoesNotContain("suppressed", text, StringComparison.Ordinal);
        Assert.Contains("kept", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_option_is_reported_with_its_config_path()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Log:MinimumLevel"] = "Loud",
            ["Log:Console"] = "yes",
            ["Log:Directory"] = "logs",
            ["Log:RetainedFileCount"] = "0",
            ["Log:Journald"] = "sometimes",
            ["Log:FileSizeLimitBytes"] = "12",
        }).Build();

        Assert.Null(LogOptions.FromConfiguration(config, out var errors));

        Assert.Equal(6, errors.Count);
        foreach (var key in new[] { "MinimumLevel: 'Loud'", "Console: 'yes'", "Directory: 'logs'", "RetainedFileCount: '0'", "Journald: 'sometimes'", "FileSizeLimitBytes: '12'" })
            Assert.Contains(errors, e => e.StartsWith("Log:" + key, StringComparison.Ordinal));
    }

    [Fact]
    public void Defaults_apply_when_the_section_is_absent()
    {
        var options = LogOptions.FromConfiguration(new ConfigurationBuilder().Build(), out var errors)!;

        Assert.Empty(errors);
        Assert.Equal(LogEventLevel.Information, options.MinimumLevel);
        Assert.Equal("/var/log/lispmobility", options.Directory);
        Assert.Null(options.Journald);
    }
}
