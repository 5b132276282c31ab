using LispMobility.Agent.Hosting;
using LispMobility.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>Microsoft.Extensions.Hosting.Systemd's lifetime and notifier with our watchdog on top, against a real
/// Unix datagram socket standing in for systemd.</summary>
/// <remarks>
/// <c>UseSystemd()</c> turns itself on only when the parent process is systemd (SystemdHelpers.IsSystemdService), which a
/// test process never is. So the tests register what the library registers in that case — its public
/// <see cref="SystemdLifetime"/> and <see cref="SystemdNotifier"/> — and check, separately, that the library's own
/// decision is what our plumbing follows. The notifier reads <c>$NOTIFY_SOCKET</c> when it is constructed; the tests
/// set it around that moment only, and share a collection so no two set it at once.
/// </remarks>
[Collection(NotifySocketCollection.Name)]
public sealed class SystemdWatchdogTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData("30000000", null, 15_000.0)]
    [InlineData("30000000", "4242", 15_000.0)]
    [InlineData("3", null, 0.001)]
    public void Watchdog_interval_is_half_of_WATCHDOG_USEC(string usec, string? pid, double expectedMs)
    {
        var interval = SystemdWatchdogEnvironment.WatchdogIntervalFrom(usec, pid, processId: 4242);
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
        Assert.Null(SystemdWatchdogEnvironment.WatchdogIntervalFrom(usec, pid, processId: 4242));

    [Fact]
    public async Task The_watchdog_pings_through_the_library_notifier_at_the_interval_and_stops_with_the_host()
    {
        using var systemd = UnixDatagramReceiver.AtTempPath();
        var notifier = NotifierFor(systemd.Address);
        Assert.True(notifier.IsEnabled);
        var clock = new FakeTimeProvider(TestClock.Start);
        using var watchdog = new SystemdWatchdog(notifier, new SystemdWatchdogEnvironment(TimeSpan.FromSeconds(10)), clock,
            NullLogger<SystemdWatchdog>.Instance);

        await watchdog.StartAsync(CancellationToken.None);
        Assert.True(watchdog.IsActive);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(50)));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));

        await watchdog.StopAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task A_notifier_for_an_abstract_socket_reaches_it()
    {
        using var systemd = UnixDatagramReceiver.Abstract();
        var clock = new FakeTimeProvider(TestClock.Start);
        using var watchdog = new SystemdWatchdog(NotifierFor(systemd.Address), new SystemdWatchdogEnvironment(TimeSpan.FromSeconds(1)), clock,
            NullLogger<SystemdWatchdog>.Instance);

        await watchdog.StartAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));
    }

    [Fact]
    public async Task Under_the_library_systemd_lifetime_the_host_sends_READY_after_start_WATCHDOG_and_STOPPING()
    {
        using var systemd = UnixDatagramReceiver.AtTempPath();
        var clock = new FakeTimeProvider(TestClock.Start);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        // What UseSystemd() registers when SystemdHelpers.IsSystemdService() is true.
        builder.Services.AddSingleton<ISystemdNotifier>(NotifierFor(systemd.Address));
        builder.Services.AddSingleton<IHostLifetime, SystemdLifetime>();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSystemdWatchdog(new SystemdWatchdogEnvironment(TimeSpan.FromSeconds(10)));
        var startedLate = new LateStartingService(systemd);
        builder.Services.AddHostedService(_ => startedLate);
        using var host = builder.Build();

        await host.StartAsync();
        // The other hosted service started after the watchdog and saw no READY yet: READY waits for the whole host.
        Assert.Null(startedLate.SeenDuringStart);
        Assert.Equal("READY=1", systemd.ReceiveText(Wait));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("WATCHDOG=1", systemd.ReceiveText(Wait));

        await host.StopAsync();
        Assert.Equal("STOPPING=1", systemd.ReceiveText(Wait));
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(systemd.ReceiveText(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task Not_started_by_systemd_UseSystemd_adds_nothing_and_the_watchdog_stays_quiet()
    {
        // The test runner's parent is not systemd; if it ever were, the library would rightly turn itself on.
        Assert.False(SystemdHelpers.IsSystemdService());
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSystemd();
        builder.Services.AddSystemdWatchdog(new SystemdWatchdogEnvironment(TimeSpan.FromMilliseconds(10)));
        using var host = builder.Build();

        Assert.Null(host.Services.GetService<ISystemdNotifier>());
        Assert.IsNotType<SystemdLifetime>(host.Services.GetRequiredService<IHostLifetime>());
        await host.StartAsync();
        Assert.False(host.Services.GetServices<IHostedService>().OfType<SystemdWatchdog>().Single().IsActive);
        await host.StopAsync();
    }

    [Fact]
    public async Task Without_NOTIFY_SOCKET_the_library_notifier_is_off_and_so_is_the_watchdog()
    {
        var notifier = NotifierFor(null);
        using var watchdog = new SystemdWatchdog(notifier, new SystemdWatchdogEnvironment(TimeSpan.FromSeconds(1)), new FakeTimeProvider(TestClock.Start),
            NullLogger<SystemdWatchdog>.Instance);

        await watchdog.StartAsync(CancellationToken.None);

        Assert.False(notifier.IsEnabled);
        Assert.False(watchdog.IsActive);
    }

    // The library's notifier takes $NOTIFY_SOCKET in its constructor; set it for that moment only.
    private static SystemdNotifier NotifierFor(string? notifySocket)
    {
        var before = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", notifySocket);
        try
        {
            return new SystemdNotifier();
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", before);
        }
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

/// <summary>Tests that set <c>$NOTIFY_SOCKET</c> of the test process run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class NotifySocketCollection
{
    public const string Name = "NOTIFY_SOCKET";
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
