using LispMobility.Agent.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LispMobility.Agent.Tests.Hosting;

/// <summary>The Windows service lifetime driven by a fake SCM that checks the SERVICE_STATUS sequence a real SCM would get.</summary>
public sealed class WindowsServiceLifetimeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Reports_start_pending_then_running_then_stops_on_the_SCMs_stop_control()
    {
        var scm = new FakeServiceControlManager(startedByScm: true);
        using var host = BuildHost(scm);

        await host.StartAsync();
        Assert.Equal("LispMobility", scm.ServiceName);
        Assert.Equal(
            [
                new ServiceStatus(ServiceState.StartPending, ServiceAccepts.None, 0, 1, 30_000),
                new ServiceStatus(ServiceState.Running, ServiceAccepts.Stop | ServiceAccepts.Shutdown, 0, 0, 0),
            ],
            scm.Reports);

        Assert.True(scm.SendControl(ServiceControlCode.Stop));
        await host.WaitForShutdownAsync().WaitAsync(Wait);

        Assert.True(scm.DispatcherReturned.Wait(Wait));
        Assert.Equal(ServiceState.StopPending, scm.Reports[2].State);
        Assert.Equal(ServiceAccepts.None, scm.Reports[2].Accepts);
        Assert.True(scm.Reports[2].WaitHintMs > 0);
        var last = scm.Reports[^1];
        Assert.Equal(new ServiceStatus(ServiceState.Stopped, ServiceAccepts.None, 0, 0, 0), last);
        // Checkpoints only grow while a state is pending, as the SCM requires.
        var stopPending = scm.Reports.Where(r => r.State == ServiceState.StopPending).Select(r => r.CheckPoint).ToList();
        Assert.Equal(stopPending.OrderBy(c => c), stopPending);
        Assert.Equal(stopPending.Distinct().Count(), stopPending.Count);
    }

    [Fact]
    public async Task A_stop_from_inside_the_agent_is_reported_too()
    {
        var scm = new FakeServiceControlManager(startedByScm: true);
        using var host = BuildHost(scm);
        await host.StartAsync();

        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await host.WaitForShutdownAsync().WaitAsync(Wait);

        Assert.Equal([ServiceState.StartPending, ServiceState.Running, ServiceState.StopPending, ServiceState.Stopped],
            scm.Reports.Select(r => r.State).Distinct());
        Assert.True(scm.DispatcherReturned.Wait(Wait));
    }

    [Fact]
    public async Task Unknown_controls_are_refused()
    {
        var scm = new FakeServiceControlManager(startedByScm: true);
        using var host = BuildHost(scm);
        await host.StartAsync();

        Assert.False(scm.SendControl((ServiceControlCode)0x10)); // SERVICE_CONTROL_PARAMCHANGE
        Assert.True(scm.SendControl(ServiceControlCode.Interrogate));
        Assert.Equal(ServiceState.Running, scm.Reports[^1].State);

        await host.StopAsync();
    }

    [Fact]
    public async Task Started_from_a_console_it_runs_without_reporting_anything()
    {
        var scm = new FakeServiceControlManager(startedByScm: false);
        using var host = BuildHost(scm);

        await host.StartAsync();
        await host.StopAsync();

        Assert.Empty(scm.Reports);
        Assert.False(((WindowsServiceLifetime)host.Services.GetRequiredService<IHostLifetime>()).IsService);
    }

    [Fact]
    public async Task A_host_that_fails_to_start_reports_stopped_with_an_error_so_the_SCM_restarts_it()
    {
        var scm = new FakeServiceControlManager(startedByScm: true);
        var host = BuildHost(scm, failingStart: true);

        await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        host.Dispose();

        Assert.Equal(new ServiceStatus(ServiceState.Stopped, ServiceAccepts.None, 1064, 0, 0), scm.Reports[^1]);
        Assert.DoesNotContain(scm.Reports, r => r.State == ServiceState.Running);
    }

    private static IHost BuildHost(FakeServiceControlManager scm, bool failingStart = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IServiceControlChannel>(scm);
        builder.Services.AddWindowsServiceLifetime(WindowsServiceCollectionExtensions.DefaultServiceName);
        if (failingStart) builder.Services.AddHostedService<FailingService>();
        return builder.Build();
    }

    private sealed class FailingService : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("config invalid");

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Behaves like StartServiceCtrlDispatcher: calls ServiceMain on its thread, then blocks until STOPPED is reported.</summary>
    private sealed class FakeServiceControlManager(bool startedByScm) : IServiceControlChannel
    {
        private readonly List<ServiceStatus> _reports = [];
        private readonly ManualResetEventSlim _stopped = new();
        private Func<ServiceControlCode, bool>? _onControl;

        public string? ServiceName { get; private set; }

        public ManualResetEventSlim DispatcherReturned { get; } = new();

        public IReadOnlyList<ServiceStatus> Reports { get { lock (_reports) return _reports.ToArray(); } }

        public bool Run(string serviceName, Action serviceMain, Func<ServiceControlCode, bool> onControl)
        {
            if (!startedByScm) return false; // ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
            ServiceName = serviceName;
            _onControl = onControl;
            serviceMain();
            _stopped.Wait();
            DispatcherReturned.Set();
            return true;
        }

        public void SetStatus(ServiceStatus status)
        {
            Assert.NotNull(_onControl); // SetServiceStatus needs the handle RegisterServiceCtrlHandlerEx gave ServiceMain
            lock (_reports)
            {
                Assert.True(_reports.Count == 0 || _reports[^1].State != ServiceState.Stopped, "a status after SERVICE_STOPPED");
                _reports.Add(status);
            }
            if (status.State == ServiceState.Stopped) _stopped.Set();
        }

        public bool SendControl(ServiceControlCode code) => _onControl!(code);
    }
}
