using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Hosting;

/// <summary>Runs the Generic Host as a Windows service, speaking to the Service Control Manager itself.</summary>
/// <remarks>
/// Microsoft.Extensions.Hosting.WindowsServices and System.ServiceProcess are not on our feed. Without this the SCM
/// would wait for a RUNNING report that never comes and kill the process (error 1053). The status sequence is the
/// documented one: START_PENDING when ServiceMain runs, RUNNING once every hosted service has started,
/// STOP_PENDING when a stop is asked for (by the SCM or from inside), STOPPED last of all with the exit code.
/// Started from a console instead, the dispatcher refuses at once and Ctrl+C / SIGTERM stop the host as usual.
/// </remarks>
public sealed partial class WindowsServiceLifetime : IHostLifetime, IDisposable
{
    private const int ErrorExceptionInService = 1064;
    private static readonly TimeSpan PendingHint = TimeSpan.FromSeconds(30);

    private readonly IHostApplicationLifetime _application;
    private readonly IServiceControlChannel _channel;
    private readonly string _serviceName;
    private readonly ILogger<WindowsServiceLifetime> _logger;
    private readonly TaskCompletionSource<bool> _dispatched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<CancellationTokenRegistration> _registrations = [];
    private readonly Lock _gate = new();
    private Thread? _dispatcher;
    private int _checkPoint;
    private ServiceState _state = ServiceState.StartPending;

    /// <summary>Creates the lifetime for the service <paramref name="serviceName"/>.</summary>
    public WindowsServiceLifetime(IHostApplicationLifetime application, IServiceControlChannel channel, string serviceName,
        ILogger<WindowsServiceLifetime> logger)
    {
        _application = application;
        _channel = channel;
        _serviceName = serviceName;
        _logger = logger;
    }

    /// <summary>True once the SCM has started us (false when run from a console).</summary>
    public bool IsService => _dispatched.Task is { IsCompletedSuccessfully: true, Result: true };

    /// <inheritdoc/>
    public async Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        // StartServiceCtrlDispatcher blocks its thread until the service reports STOPPED, so it gets its own.
        _dispatcher = new Thread(Dispatch) { IsBackground = true, Name = "SCM dispatcher" };
        _dispatcher.Start();
        if (!await _dispatched.Task.WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            LogNotAService(_logger, _serviceName);
            Console.CancelKeyPress += OnCancelKeyPress;
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            return;
        }
        _registrations.Add(_application.ApplicationStarted.Register(() => Report(ServiceState.Running)));
        _registrations.Add(_application.ApplicationStopping.Register(() => Report(ServiceState.StopPending)));
        _registrations.Add(_application.ApplicationStopped.Register(() => Report(ServiceState.Stopped)));
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _registrations.Clear();
        Console.CancelKeyPress -= OnCancelKeyPress;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        // A host that failed to start never raises ApplicationStopped: report STOPPED with an error
        // (ERROR_EXCEPTION_IN_SERVICE) so the SCM's failure actions restart us instead of seeing a clean stop.
        if (IsService) Report(ServiceState.Stopped, ErrorExceptionInService);
        // After STOPPED the dispatcher returns promptly; do not hold up process exit if it does not.
        _dispatcher?.Join(TimeSpan.FromSeconds(5));
    }

    private void Dispatch()
    {
        try
        {
            var connected = _channel.Run(_serviceName, ServiceMain, OnControl);
            _dispatched.TrySetResult(connected);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            LogDispatcherFailed(_logger, _serviceName, e.Message);
            _dispatched.TrySetResult(false);
        }
    }

    private void ServiceMain()
    {
        Report(ServiceState.StartPending);
        _dispatched.TrySetResult(true);
    }

    private bool OnControl(ServiceControlCode control)
    {
        switch (control)
        {
            case ServiceControlCode.Stop or ServiceControlCode.Shutdown:
                LogStopRequested(_logger, control.ToString());
                Report(ServiceState.StopPending);
                _application.StopApplication();
                return true;
            case ServiceControlCode.Interrogate:
                return true;
            default:
                return false;
        }
    }

    private void Report(ServiceState state, int? win32ExitCode = null)
    {
        lock (_gate)
        {
            // Only forward: START_PENDING → RUNNING → STOP_PENDING → STOPPED. A pending state may repeat, with a
            // higher checkpoint, which is how the SCM sees progress; nothing may follow STOPPED.
            if (Rank(state) < Rank(_state) || (state == _state && state is ServiceState.Running or ServiceState.Stopped)) return;
            _state = state;
            var pending = state is ServiceState.StartPending or ServiceState.StopPending;
            _checkPoint = pending ? _checkPoint + 1 : 0;
            var status = new ServiceStatus(
                state,
                state == ServiceState.Running ? ServiceAccepts.Stop | ServiceAccepts.Shutdown : ServiceAccepts.None,
                state == ServiceState.Stopped ? win32ExitCode ?? Environment.ExitCode : 0,
                _checkPoint,
                pending ? (int)PendingHint.TotalMilliseconds : 0);
            try
            {
                _channel.SetStatus(status);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                LogStatusFailed(_logger, state.ToString(), e.Message);
            }
        }
    }

    private static int Rank(ServiceState state) => state switch
    {
        ServiceState.StartPending => 0,
        ServiceState.Running => 1,
        ServiceState.StopPending => 2,
        _ => 3,
    };

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        _application.StopApplication();
    }

    private void OnProcessExit(object? sender, EventArgs e) => _application.StopApplication();

    [LoggerMessage(EventId = Logging.AgentLogEvents.WindowsServiceNotStartedBySCM, Level = LogLevel.Information,
        Message = "Not started by the Service Control Manager: running {ServiceName} in the console (Ctrl+C stops)")]
    private static partial void LogNotAService(ILogger logger, string serviceName);

    [LoggerMessage(EventId = Logging.AgentLogEvents.WindowsServiceDispatcherFailed, Level = LogLevel.Error,
        Message = "Service Control Manager dispatcher for {ServiceName} failed: {Reason}")]
    private static partial void LogDispatcherFailed(ILogger logger, string serviceName, string reason);

    [LoggerMessage(EventId = Logging.AgentLogEvents.WindowsServiceStatusFailed, Level = LogLevel.Error,
        Message = "Reporting {State} to the Service Control Manager failed: {Reason}")]
    private static partial void LogStatusFailed(ILogger logger, string state, string reason);

    [LoggerMessage(EventId = Logging.AgentLogEvents.WindowsServiceStopRequested, Level = LogLevel.Information,
        Message = "Service Control Manager asked to {Control}")]
    private static partial void LogStopRequested(ILogger logger, string control);
}

/// <summary>Registers the Windows service lifetime with a host.</summary>
public static class WindowsServiceCollectionExtensions
{
    /// <summary>The service name install.ps1 registers.</summary>
    public const string DefaultServiceName = "LispMobility";

    /// <summary>On Windows, replaces the console lifetime with <see cref="WindowsServiceLifetime"/>; elsewhere does nothing.</summary>
    public static IServiceCollection AddWindowsService(this IServiceCollection services, string serviceName = DefaultServiceName)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!OperatingSystem.IsWindows()) return services;
        services.AddSingleton<IServiceControlChannel, Advapi32ServiceControlChannel>();
        return services.AddWindowsServiceLifetime(serviceName);
    }

    // Registration without the platform check, so tests can run the lifetime against a fake channel.
    internal static IServiceCollection AddWindowsServiceLifetime(this IServiceCollection services, string serviceName) =>
        services.AddSingleton<IHostLifetime>(sp => new WindowsServiceLifetime(
            sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<IServiceControlChannel>(), serviceName,
            sp.GetRequiredService<ILogger<WindowsServiceLifetime>>()));
}
