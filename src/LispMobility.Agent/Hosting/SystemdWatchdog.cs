using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Hosting;

/// <summary>What systemd told this process about its watchdog: how often to send <c>WATCHDOG=1</c>.</summary>
/// <param name="WatchdogInterval">Half of <c>$WATCHDOG_USEC</c>, or null for no watchdog.</param>
public sealed record SystemdWatchdogEnvironment(TimeSpan? WatchdogInterval)
{
    /// <summary>Reads <c>$WATCHDOG_USEC</c> and <c>$WATCHDOG_PID</c> of this process.</summary>
    public static SystemdWatchdogEnvironment FromEnvironment() => new(
        WatchdogIntervalFrom(
            Environment.GetEnvironmentVariable("WATCHDOG_USEC"),
            Environment.GetEnvironmentVariable("WATCHDOG_PID"),
            Environment.ProcessId));

    /// <summary>Half the watchdog timeout, as sd_watchdog_enabled(3) advises; null when the watchdog is off or meant for another process.</summary>
    public static TimeSpan? WatchdogIntervalFrom(string? watchdogUsec, string? watchdogPid, int processId)
    {
        if (!ulong.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec == 0)
            return null;
        // WATCHDOG_PID names the process the watchdog is for; a child that inherited the variables must stay quiet.
        if (!string.IsNullOrEmpty(watchdogPid) &&
            (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid != processId))
            return null;
        var half = usec / 2;
        return half >= (ulong)(TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerMicrosecond)
            ? null
            : TimeSpan.FromMicroseconds(Math.Max(1, half));
    }
}

/// <summary>Pings the systemd watchdog (<c>WATCHDOG=1</c>) through the library's <see cref="ISystemdNotifier"/>.</summary>
/// <remarks>
/// Microsoft.Extensions.Hosting.Systemd's lifetime sends READY=1 and STOPPING=1 but has no watchdog; this fills the gap.
/// Without a notifier (not started by systemd) or without <c>$WATCHDOG_USEC</c> it does nothing.
/// </remarks>
public sealed partial class SystemdWatchdog : IHostedService, IDisposable
{
    private readonly ISystemdNotifier? _notifier;
    private readonly TimeProvider _time;
    private readonly TimeSpan? _interval;
    private readonly ILogger<SystemdWatchdog> _logger;
    private ITimer? _timer;

    /// <summary>Creates the service; the host calls it, tests may too.</summary>
    /// <param name="notifier">The library's notifier, registered by <c>UseSystemd()</c> only under systemd; null elsewhere.</param>
    /// <param name="environment">The watchdog interval.</param>
    /// <param name="time">The clock the pings follow.</param>
    /// <param name="logger">Where "watchdog on" is said.</param>
    public SystemdWatchdog(ISystemdNotifier? notifier, SystemdWatchdogEnvironment environment, TimeProvider time, ILogger<SystemdWatchdog> logger)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _notifier = notifier;
        _interval = environment.WatchdogInterval;
        _time = time;
        _logger = logger;
    }

    /// <summary>True when pings are being sent.</summary>
    public bool IsActive => _timer is not null;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_notifier is not { IsEnabled: true } notifier || _interval is not { } interval) return Task.CompletedTask;
        // Pings start with the host, not at READY: systemd arms the watchdog while the start-up is still running.
        _timer = _time.CreateTimer(_ => notifier.Notify(new ServiceState("WATCHDOG=1")), null, interval, interval);
        LogWatchdogEnabled(_logger, interval.TotalMilliseconds);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Pinging until the very end of shutdown would hide a hung stop; systemd's TimeoutStopSec owns that now.
        _timer?.Dispose();
        _timer = null;
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose() => _timer?.Dispose();

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdWatchdogEnabled, Level = LogLevel.Information,
        Message = "systemd watchdog on: pinging every {IntervalMs} ms")]
    private static partial void LogWatchdogEnabled(ILogger logger, double intervalMs);
}

/// <summary>Registers the watchdog pings with a host.</summary>
public static class SystemdWatchdogServiceCollectionExtensions
{
    /// <summary>Adds <see cref="SystemdWatchdog"/>; it uses the <see cref="ISystemdNotifier"/> that <c>UseSystemd()</c> registers
    /// under systemd, and does nothing when there is none.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="environment">The watchdog interval; defaults to this process's environment variables.</param>
    public static IServiceCollection AddSystemdWatchdog(this IServiceCollection services, SystemdWatchdogEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var env = environment ?? SystemdWatchdogEnvironment.FromEnvironment();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService(sp => new SystemdWatchdog(sp.GetService<ISystemdNotifier>(), env,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SystemdWatchdog>>()));
        return services;
    }
}
