using LispMobility.Agent.Hosting;
using LispMobility.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Agent.Tests.Hosting;

public sealed class SystemdNotifierTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public void Sends_each_state_as_one_datagram_to_a_path_socket()
    {
        using var systemd = UnixDatagramReceiver.AtTempPath();
        using var notifier = new SystemdNotifier(systemd.Address);

        Assert.True(notifier.IsEnabled);
        Assert.True(notifier.Ready());
        Assert.Equal("READY=1", systemd.ReceiveText(Wait));
        Assert.True(notifier.Status("registering 3 EIDs"));
        Assert.Equal("STATUS=registering 3 EIDs", systemd.ReceiveText(Wait));
        Assert.True(notifier.Watchdog());
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
        Assert.True(notifier.Stopping());
        Assert.Equal("STOPPING=1", systemd.ReceiveText(Wait));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void Reaches_an_abstract_socket_written_with_an_at_sign()
    {
        using var systemd = UnixDatagramReceiver.Abstract();
        using var notifier = new SystemdNotifier(systemd.Address);

        Assert.True(notifier.Ready("up"));
        Assert.Equal("READY=1\nSTATUS=up", systemd.ReceiveText(Wait));
    }

    [Fact]
    public void A_status_with_a_newline_cannot_inject_another_assignment()
    {
        using var systemd = UnixDatagramReceiver.AtTempPath();
        using var notifier = new SystemdNotifier(systemd.Address);

        notifier.Status("line one\nREADY=1");

        Assert.Equal("STATUS=line one READY=1", systemd.ReceiveText(Wait));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Without_NOTIFY_SOCKET_every_call_is_a_no_op(string? notifySocket)
    {
        using var notifier = new SystemdNotifier(notifySocket);

        Assert.False(notifier.IsEnabled);
        Assert.False(notifier.Ready());
        Assert.False(notifier.Watchdog());
    }

    [Fact]
    public void An_unsupported_address_disables_notifications_and_says_why()
    {
        var logger = new ListLogger<SystemdNotifier>();
        using var notifier = new SystemdNotifier("vsock:2:1234", logger);

        Assert.False(notifier.IsEnabled);
        Assert.False(notifier.Ready());
        Assert.Contains(logger.Lines, l => l.Contains("vsock:2:1234", StringComparison.Ordinal));
    }

    [Fact]
    public void A_socket_nobody_listens_on_is_logged_not_thrown()
    {
        var dir = Directory.CreateTempSubdirectory("lm-sock-").FullName;
        try
        {
            var logger = new ListLogger<SystemdNotifier>();
            using var notifier = new SystemdNotifier(Path.Combine(dir, "gone"), logger);

            Assert.False(notifier.Ready());
            Assert.Contains(logger.Lines, l => l.Contains("READY", StringComparison.Ordinal) && l.Contains("gone", StringComparison.Ordinal));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("30000000", null, 15_000.0)]
    [InlineData("30000000", "4242", 15_000.0)]
    [InlineData("3", null, 0.001)]
    public void Watchdog_interval_is_half_of_WATCHDOG_USEC(string usec, string? pid, double expectedMs)
    {
        var interval = SystemdServiceEnvironment.WatchdogIntervalFrom(usec, pid, processId: 4242);
        Assert.Equal(expectedMs, interval!.Value.TotalMilliseconds, 3);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("0", null)]
    [InlineData("abc", null)]
    [InlineData("-5", null)]
    [InlineData("30000000", "1")]
    [InlineData("30000000", "x")]
    public void No_watchdog_when_unset_invalid_or_meant_for_another_process(string? usec, string? pid) =>
        Assert.Null(SystemdServiceEnvironment.WatchdogIntervalFrom(usec, pid, processId: 4242));

    [Fact]
    public async Task The_host_sends_READY_after_start_STOPPING_on_stop_and_pings_the_watchdog()
    {
        using var systemd = UnixDatagramReceiver.AtTempPath();
        var clock = new FakeTimeProvider(TestClock.Start);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSystemdNotify(new SystemdServiceEnvironment(systemd.Address, TimeSpan.FromSeconds(10)));
        var startedLate = new LateStartingService(systemd);
        builder.Services.AddHostedService(_ => startedLate);
        using var host = builder.Build();

        await host.StartAsync();
        // The other hosted service started after ours and saw no READY yet: READY waits for the whole host.
        Assert.Null(startedLate.SeenDuringStart);
        Assert.Equal("READY=1\nSTATUS=running", systemd.ReceiveText(Wait));

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(50)));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));

        await host.StopAsync();
        Assert.Equal("STOPPING=1", systemd.ReceiveText(Wait));
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task The_host_runs_unchanged_when_not_started_by_systemd()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSystemdNotify(new SystemdServiceEnvironment(null, TimeSpan.FromSeconds(1)));
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();
        Assert.False(host.Services.GetRequiredService<SystemdNotifier>().IsEnabled);
    }

    private sealed class LateStartingService(UnixDatagramReceiver systemd) : IHostedService
    {
        public string? SeenDuringStart { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            SeenDuringStart = systemd.ReceiveText(TimeSpan.FromMilliseconds(200));
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>Collects formatted log lines so a test can check what an operator would read.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToArray(); } }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => NullLogger.Instance.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines) _lines.Add($"{logLevel} {eventId.Id} {formatter(state, exception)}");
    }
}
