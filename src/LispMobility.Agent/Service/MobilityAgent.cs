using System.Net;
using LispMobility.Agent.Hosting;
using LispMobility.Fabric;
using LispMobility.Fabric.IosXe;
using LispMobility.Fabric.Linux;
using LispMobility.Fabric.NxOs;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility;
using LispMobility.Mobility.Persistence;
using LispMobility.Watchers;
using LispMobility.Watchers.DataPlane;
using LispMobility.Watchers.HyperV;
using LispMobility.Watchers.Libvirt;
using LispMobility.Watchers.VCenter;
using LispMobility.Xtr;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Service;

/// <summary>
/// The running agent: the optional embedded Map-Server, this site's xTR, the watchers, the detector and the
/// coordinator, started in that order and stopped in reverse; metrics refreshed every few seconds.
/// </summary>
internal sealed partial class MobilityAgent(AgentConfiguration config, ILoggerFactory loggers, MetricsRegistry metrics) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger<MobilityAgent>();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly List<IDisposable> _disposables = [];
    private MapServerService? _mapServer;
    private Timer? _metricsTimer;

    public AgentConfiguration Config => config;
    public MapServer? MapServer => _mapServer?.Server;
    public XtrNode Xtr { get; private set; } = null!;
    public MobilityStore Store { get; private set; } = null!;
    public MobilityCoordinator Coordinator { get; private set; } = null!;
    public WorkloadEventStream Stream { get; } = new();
    public VCenterWatcher? VCenter { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (config.MapServer is { } msOptions)
        {
            var server = new MapServer(msOptions, logger: loggers.CreateLogger<MapServer>());
            _mapServer = new MapServerService(server, msOptions, loggers);
            await _mapServer.StartAsync(cancellationToken).ConfigureAwait(false);
            LogStarted("embedded Map-Server/Resolver", string.Join(", ", _mapServer.LocalEndpoints));
        }

        IRouteTable routes = config.Runtime.RouteTable == "kernel" && OperatingSystem.IsLinux() ? new LinuxRouteTable() : new InMemoryRouteTable();
        Xtr = new XtrNode(config.Xtr, routes, loggers);
        Xtr.Start();
        LogStarted($"xTR of site {config.Xtr.Site}", string.Join(", ", Xtr.LocalEndpoints));

        Store = new MobilityStore(config.Mobility.Database);
        Coordinator = new MobilityCoordinator(config.Mobility, new Dictionary<string, ITunnelRouter> { [config.Xtr.Site] = Xtr }, Store,
            new Dictionary<string, IReadOnlyList<IGatewayDriver>> { [config.Xtr.Site] = GatewayDrivers() }, logger: loggers.CreateLogger<MobilityCoordinator>());
        Coordinator.MoveFinished += (_, move) => Observe(move);
        var detector = new MoveDetector(Coordinator, config.Mobility.HoldDown, logger: loggers.CreateLogger<MoveDetector>());
        var directory = new MacDirectory();
        var token = _stop.Token;
        _tasks.Add(Task.Run(async () =>
        {
            var (restored, notRestored) = await Coordinator.RestoreAsync(token).ConfigureAwait(false);
            if (restored + notRestored.Count > 0) LogRestored(restored, notRestored.Count);
            var resumed = await Coordinator.ResumeAsync(token).ConfigureAwait(false);
            if (resumed.Count > 0) LogResumed(resumed.Count, resumed.Count(m => m.Converged));
        }, token));
        _tasks.Add(Task.Run(async () =>
        {
            await foreach (var fact in Stream.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                directory.Learn(fact);
                detector.Observe(fact);
            }
        }, token));

        foreach (var watcher in Watchers(directory)) _tasks.Add(Task.Run(() => watcher.RunAsync(Stream, token), token));
        _metricsTimer = new Timer(_ => RefreshMetrics(), null, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }

    private IEnumerable<IWorkloadWatcher> Watchers(MacDirectory directory)
    {
        if (config.VCenter is { } vc)
        {
            VCenter = new VCenterWatcher(vc, config.Sites, loggers.CreateLogger<VCenterWatcher>());
            _disposables.Add(VCenter);
            yield return VCenter;
        }

        if (config.HyperV is { } hv) yield return new HyperVWatcher(hv, config.Sites, loggers.CreateLogger<HyperVWatcher>());
        if (config.Libvirt is { } lv) yield return new LibvirtWatcher(lv, config.Sites, loggers.CreateLogger<LibvirtWatcher>());
        if (config.DataPlane is { } dp)
        {
            var dataPlane = new DataPlaneWatcher(dp, loggers.CreateLogger<DataPlaneWatcher>(), directory: directory);
            Xtr.Engine.EventRaised += (_, e) =>
            {
                // Off the xTR's receive thread, which raised the event; a few at a time (the rest are real moves, see below).
                if (e is HostAway away && _probes.Wait(0)) _ = Task.Run(() => ProbeAfterAwayAsync(dataPlane, away.Eid.Address.ToIPAddress()));
            };
            yield return dataPlane;
        }
    }

    // Told another site holds a host (across subnets, where no L2 reaches the other site): if it still answers an ARP probe
    // here, the news crossed a move back that the detector took for noise (the VM returned before the news arrived, so the
    // owner still read as this site). It is reported as seen here, and moves back. A few probes at a time: a bulk failover
    // makes thousands of hosts away at once, real moves that need no probe.
    private async Task ProbeAfterAwayAsync(ILivenessProbe probe, IPAddress eid)
    {
        var name = Xtr.Engine.RangeOf(eid);
        var range = config.Xtr.DynamicEids.FirstOrDefault(d => d.Name == name);
        try
        {
            if (range is null || range.Mode != LispMobility.Xtr.Configuration.MobilityMode.AcrossSubnet) return;
            if (!await probe.IsAliveAsync(eid, _stop.Token).ConfigureAwait(false)) return;
            LogStillHere(eid.ToString());
            await Stream.PublishAsync(new WorkloadObserved(eid.ToString(), eid.ToString(), [], [eid], "dataplane", config.Xtr.Site, WorkloadChange.Discovered,
                WorkloadSources.DataPlane, TimeProvider.System.GetTimestamp()), _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        finally
        {
            _probes.Release();
        }
    }

    private readonly SemaphoreSlim _probes = new(8);

    private List<IGatewayDriver> GatewayDrivers()
    {
        var drivers = new List<IGatewayDriver>();
        if (config.NxApi is { } nx) drivers.Add(Track(new NxApiDriver(nx, logger: loggers.CreateLogger<NxApiDriver>())));
        if (config.Restconf is { } rc) drivers.Add(Track(new RestconfDriver(rc, logger: loggers.CreateLogger<RestconfDriver>())));
        if (config.LinuxGateway is { } lg) drivers.Add(new LinuxGatewayDriver(lg, logger: loggers.CreateLogger<LinuxGatewayDriver>()));
        return drivers;
    }

    private T Track<T>(T disposable) where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private readonly HistogramSeries _convergence = metrics.Histogram("lispmobility_move_convergence_seconds", "Time from a move's detection to its last saga step.",
        [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]).WithLabels();

    private readonly Counter _moves = metrics.Counter("lispmobility_moves_total", "Moves by outcome.", "outcome");

    private void Observe(MoveOutcome move)
    {
        _moves.WithLabels(move.Converged ? "converged" : "failed").Inc();
        if (move.Converged) _convergence.Observe(move.Total.TotalSeconds);
    }

    private readonly Gauge _registrations = metrics.Gauge("lispmobility_registrations", "EID-prefixes registered at the embedded Map-Server.");
    private readonly Gauge _hosts = metrics.Gauge("lispmobility_dynamic_hosts", "Dynamic hosts known to this site's xTR, by state.", "state");
    private readonly Gauge _cache = metrics.Gauge("lispmobility_map_cache_entries", "Map-cache entries of this site's ITR.");
    private readonly Gauge _rejected = metrics.Gauge("lispmobility_rejected_packets", "Control messages refused, by component and reason (running total).", "component", "reason");

    private readonly Gauge _faults = metrics.Gauge("lispmobility_engine_faults", "Work items a protocol engine failed on and dropped (a bug; the log has the first of each minute).", "component", "where");

    private void RefreshMetrics()
    {
        try
        {
            if (MapServer is { } ms)
            {
                _registrations.WithLabels().Set(ms.RegistrationCount);
                foreach (var (reason, n) in ms.Counters.RejectedByReason()) _rejected.WithLabels("map-server", reason.ToString()).Set(n);
            }

            foreach (var state in Enum.GetValues<HostState>()) _hosts.WithLabels(state.ToString()).Set(Xtr.Engine.Hosts().Count(h => h.State == state));
            _cache.WithLabels().Set(Xtr.Engine.MapCacheEntries().Count);
            _rejected.WithLabels("xtr", "Malformed").Set(Xtr.Engine.Counters.MalformedCount);
            _rejected.WithLabels("xtr", "NotifyRejected").Set(Xtr.Engine.Counters.NotifiesRejected);
            _rejected.WithLabels("xtr", "UnsupportedEid").Set(Xtr.Engine.Counters.UnsupportedEids);
            _faults.WithLabels("xtr", "timer").Set(Xtr.Engine.Counters.TimerFaults);
            _faults.WithLabels("xtr", "receive").Set(Xtr.Engine.Counters.ReceiveFaults);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogMetricsFailed(e);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        Stream.Complete();
        if (_metricsTimer is not null) await _metricsTimer.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_tasks).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or AggregateException)
        {
            // Stopping: the loops end on cancellation.
        }

        if (Xtr is not null) await Xtr.DisposeAsync().ConfigureAwait(false);
        if (_mapServer is not null) await _mapServer.DisposeAsync().ConfigureAwait(false);
        foreach (var d in _disposables) d.Dispose();
        Store?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Started the {Component} on {Endpoints}")]
    private partial void LogStarted(string component, string endpoints);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Registered again the /32s of {Count} EID(s) the journal places at this site; {Skipped} left alone (see the warnings)")]
    private partial void LogRestored(int count, int skipped);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "{Eid} still answers here although the Map-Server says another site holds it: reported as seen here, to move it back")]
    private partial void LogStillHere(string eid);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Resumed {Count} unfinished move(s) from the journal; {Converged} converged")]
    private partial void LogResumed(int count, int converged);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Metrics refresh failed")]
    private partial void LogMetricsFailed(Exception exception);
}
