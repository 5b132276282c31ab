using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Hosting;

/// <summary>What systemd told this process through its environment: where to notify and how often to ping the watchdog.</summary>
/// <param name="NotifySocket">The <c>$NOTIFY_SOCKET</c> value, or null when not run as a Type=notify unit.</param>
/// <param name="WatchdogInterval">How often to send <c>WATCHDOG=1</c> (half of <c>$WATCHDOG_USEC</c>), or null for no watchdog.</param>
public sealed record SystemdServiceEnvironment(string? NotifySocket, TimeSpan? WatchdogInterval)
{
    /// <summary>Reads <c>$NOTIFY_SOCKET</c>, <c>$WATCHDOG_USEC</c> and <c>$WATCHDOG_PID</c> of this process.</summary>
    public static SystemdServiceEnvironment FromEnvironment() => new(
        Environment.GetEnvironmentVariable(SystemdNotifier.NotifySocketVariable),
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

/// <summary>Sends READY=1 once the host has started, STOPPING=1 when it begins to stop, and WATCHDOG=1 pings in between.</summary>
public sealed partial class SystemdNotifyService : IHostedService, IDisposable
{
    private readonly SystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeProvider _time;
    private readonly TimeSpan? _watchdogInterval;
    private readonly ILogger<SystemdNotifyService> _logger;
    private readonly List<CancellationTokenRegistration> _registrations = [];
    private ITimer? _watchdog;

    /// <summary>Creates the service; the host calls it, tests may too.</summary>
    public SystemdNotifyService(SystemdNotifier notifier, SystemdServiceEnvironment environment,
        IHostApplicationLifetime lifetime, TimeProvider time, ILogger<SystemdNotifyService> logger)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _notifier = notifier;
        _lifetime = lifetime;
        _time = time;
        _watchdogInterval = environment.WatchdogInterval;
        _logger = logger;
    }

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_notifier.IsEnabled) return Task.CompletedTask;
        // ApplicationStarted fires after every hosted service (the management API's Kestrel included) has started,
        // so READY really means "ready to serve".
        _registrations.Add(_lifetime.ApplicationStarted.Register(() =>
        {
            if (_notifier.Ready("running")) LogReady(_logger);
        }));
        _registrations.Add(_lifetime.ApplicationStopping.Register(() =>
        {
            if (_notifier.Stopping()) LogStopping(_logger);
        }));
        if (_watchdogInterval is { } interval)
        {
            // Pings start with the host, not at READY: systemd arms the watchdog while the start-up is still running.
            _watchdog = _time.CreateTimer(_ => _notifier.Watchdog(), null, interval, interval);
            LogWatchdogEnabled(_logger, interval.TotalMilliseconds);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Keep pinging until the very end of shutdown would hide a hung stop; systemd's TimeoutStopSec owns that now.
        _watchdog?.Dispose();
        _watchdog = null;
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _watchdog?.Dispose();
        foreach (var registration in _registrations) registration.Dispose();
        _registrations.Clear();
    }

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdReady, Level = LogLevel.Information,
        Message = "Told systemd the agent is ready")]
    private static partial void LogReady(ILogger logger);

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdStopping, Level = LogLevel.Information,
        Message = "Told systemd the agent is stopping")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = Logging.AgentLogEvents.SystemdWatchdogEnabled, Level = LogLevel.Information,
        Message = "systemd watchdog on: pinging every {IntervalMs} ms")]
    private static partial void LogWatchdogEnabled(ILogger logger, double intervalMs);
}

/// <summary>Registers the systemd notification service with a host.</summary>
public static class SystemdServiceCollectionExtensions
{
    /// <summary>Adds READY/STOPPING/WATCHDOG notifications; a no-op at run time when the process was not started by systemd.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="environment">What systemd said; defaults to this process's environment variables.</param>
    public static IServiceCollection AddSystemdNotify(this IServiceCollection services, SystemdServiceEnvironment? environment = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var env = environment ?? SystemdServiceEnvironment.FromEnvironment();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(env);
        services.AddSingleton(sp => new SystemdNotifier(env.NotifySocket, sp.GetService<ILogger<SystemdNotifier>>()));
        services.AddHostedService<SystemdNotifyService>();
        return services;
    }
}
