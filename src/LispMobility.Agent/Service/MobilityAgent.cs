using System.Net;
using LispMobility.Fabric;
using LispMobility.MappingSystem;
using LispMobility.MappingSystem.Hosting;
using LispMobility.Mobility;
using LispMobility.Mobility.Persistence;
using LispMobility.Watchers;
using LispMobility.Watchers.DataPlane;
using LispMobility.Watchers.VCenter;
using LispMobility.Xtr;
using LispMobility.Platform.Routing;
using LispMobility.Xtr.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LispMobility.Agent.Service;

/// <summary>
/// The running agent: the optional embedded Map-Server, this site's xTR, the watchers, the detector and the
/// coordinator, started in that order and stopped in reverse; its metrics are read from the engines when asked for.
/// </summary>
internal sealed partial class MobilityAgent : IHostedService, IAsyncDisposable
{
    private readonly AgentConfiguration config;
    private readonly ILoggerFactory loggers;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private MapServerService? _mapServer;

    private readonly IReadOnlyList<IWorkloadWatcher> _watchers;
    private readonly IReadOnlyList<IGatewayDriver> _drivers;
    private readonly IRouteTable _routes;
    private readonly MacDirectory _directory;

    /// <summary>The agent with what <see cref="LispMobilityServiceCollectionExtensions.AddLispMobility(Microsoft.Extensions.DependencyInjection.IServiceCollection, AgentConfiguration)"/>
    /// registered: the watchers and this site's gateway drivers (the container owns and disposes them), the route table.</summary>
    public MobilityAgent(AgentConfiguration config, ILoggerFactory loggers, System.Diagnostics.Metrics.IMeterFactory meters,
        IEnumerable<IWorkloadWatcher> watchers, IEnumerable<IGatewayDriver> drivers, IRouteTable routes, MacDirectory directory, TimeProvider time)
    {
        this.config = config;
        Time = time;
        Started = time.GetUtcNow();
        this.loggers = loggers;
        _watchers = [.. watchers];
        _drivers = [.. drivers];
        _routes = routes;
        _directory = directory;
        VCenter = _watchers.OfType<VCenterWatcher>().FirstOrDefault();
        _logger = loggers.CreateLogger<MobilityAgent>();
        _metrics = new AgentMetrics(meters, this);
    }

    public AgentConfiguration Config => config;

    /// <summary>The clock the agent stamps what it records by (its scheduled jobs' audit rows).</summary>
    public TimeProvider Time { get; }
    public MapServer? MapServer => _mapServer?.Server;
    public XtrNode Xtr { get; private set; } = null!;

    /// <summary>The xTR once started; null before (the metrics may be read at any time).</summary>
    public XtrNode? XtrOrNull => Xtr;
    public MobilityStore Store { get; private set; } = null!;

    /// <summary>The store once opened; null before (the metrics and /healthz may be read at any time).</summary>
    public MobilityStore? StoreOrNull => Store;
    public MobilityCoordinator Coordinator { get; private set; } = null!;

    /// <summary>The reconciler, once started (the Quartz job and the reconnect watch run it).</summary>
    public Reconciler? Reconciler { get; private set; }
    public WorkloadEventStream Stream { get; } = new();
    public VCenterWatcher? VCenter { get; }

    /// <summary>When the agent started (a Map-Server that never acknowledged is silent since then).</summary>
    public DateTimeOffset Started { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Started = Time.GetUtcNow();
        if (config.MapServer is { } msOptions)
        {
            var server = new MapServer(msOptions, logger: loggers.CreateLogger<MapServer>());
            _mapServer = new MapServerService(server, msOptions, loggers);
            await _mapServer.StartAsync(cancellationToken).ConfigureAwait(false);
            LogStarted("embedded Map-Server/Resolver", string.Join(", ", _mapServer.LocalEndpoints));
        }

        Xtr = new XtrNode(config.Xtr, _routes, loggers);
        Xtr.Start();
        LogStarted($"xTR of site {config.Xtr.Site}", string.Join(", ", Xtr.LocalEndpoints));

        Store = new MobilityStore(config.Mobility.Database, loggers.CreateLogger<MobilityStore>());
        Coordinator = new MobilityCoordinator(config.Mobility, new Dictionary<string, ITunnelRouter> { [config.Xtr.Site] = Xtr }, Store,
            new Dictionary<string, IReadOnlyList<IGatewayDriver>> { [config.Xtr.Site] = _drivers }, logger: loggers.CreateLogger<MobilityCoordinator>());
        Coordinator.MoveFinished += (_, move) => _metrics.Record(move);
        var detector = new MoveDetector(Coordinator, config.Mobility.HoldDown, logger: loggers.CreateLogger<MoveDetector>());
        _retry = new MoveRetry(Coordinator, config.Mobility, logger: loggers.CreateLogger<MoveRetry>(), inventory: detector.Inventory);
        Reconciler = new Reconciler(Coordinator, detector, config.Mobility.HoldDown, _watchers.OfType<DataPlaneWatcher>().FirstOrDefault(),
            logger: loggers.CreateLogger<Reconciler>());
        var directory = _directory;
        var token = _stop.Token;
        WarmedUp = Task.Run(() => WarmUpAsync(token), token);
        _tasks.Add(WarmedUp);
        _tasks.Add(Task.Run(async () =>
        {
            var (restored, notRestored) = await Coordinator.RestoreAsync(token).ConfigureAwait(false);
            if (restored + notRestored.Count > 0) LogRestored(restored, notRestored.Count);
            var resumed = await Coordinator.ResumeAsync(token).ConfigureAwait(false);
            if (resumed.Count > 0) LogResumed(resumed.Count, resumed.Count(m => m.Converged));
            await ReconcileAsync("start", token).ConfigureAwait(false);
            await ReconcileOnReconnectAsync(token).ConfigureAwait(false);
        }, token));
        _tasks.Add(Task.Run(async () =>
        {
            await foreach (var fact in Stream.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                directory.Learn(fact);
                detector.Observe(fact);
            }
        }, token));

        foreach (var watcher in _watchers)
        {
            if (watcher is DataPlaneWatcher dataPlane) ProbeWhenAway(dataPlane);
            _tasks.Add(Task.Run(() => watcher.RunAsync(Stream, token), token));
        }
    }

    /// <summary>The warm-up of the move path started at start (<see cref="MoveWarmUp"/>): its report, or null when it failed.</summary>
    public Task<WarmUpReport?> WarmedUp { get; private set; } = Task.FromResult<WarmUpReport?>(null);

    // Off the start path: the agent serves while it runs, and a move that comes meanwhile only finds less of its code compiled.
    private async Task<WarmUpReport?> WarmUpAsync(CancellationToken cancellationToken)
    {
        try
        {
            var report = await MoveWarmUp.RunAsync(config.Mobility, config.Xtr.DataPlane?.Enabled == true, cancellationToken).ConfigureAwait(false);
            var (methods, _, took) = EagerJit.Run(cancellationToken);
            LogWarmedUp(report.Took.TotalMilliseconds, report.Moves.Count, report.Moves.Count(m => m.Converged), report.DataPackets, methods, took.TotalMilliseconds);
            return report;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogWarmUpFailed(e);
            return null;
        }
    }

    private void ProbeWhenAway(ILivenessProbe dataPlane)
    {
        Xtr.EventRaised += (_, e) =>
        {
            // Off the xTR's receive thread, which raised the event; a few at a time (the rest are real moves, see below).
            if (e is HostAway away && _probes.Wait(0)) _ = Task.Run(() => ProbeAfterAwayAsync(dataPlane, away.Eid.Address.ToIPAddress()));
        };

        // What the last run held away, it held away for a reason the restart forgot: a VM that came back while this agent
        // was down, and announced itself before it restarted, is silent now, and no journal row places it here (the move
        // away was the other site's). Each is probed once, a few at a time; one that answers moves back like any sighting.
        var leftovers = Xtr.HeldAwayByLastRun;
        if (leftovers.Count == 0) return;
        LogProbingLeftovers(leftovers.Count);
        _tasks.Add(Task.Run(async () =>
        {
            foreach (var eid in leftovers)
            {
                try
                {
                    await _probes.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                _ = Task.Run(() => ProbeAfterAwayAsync(dataPlane, eid));
            }
        }));
    }

    // Told another site holds a host (across subnets, where no L2 reaches the other site): if it still answers an ARP probe
    // here, the news crossed a move back that the detector took for noise (the VM returned before the news arrived, so the
    // owner still read as this site). It is reported as seen here, and moves back. A few probes at a time: a bulk failover
    // makes thousands of hosts away at once, real moves that need no probe.
    private async Task ProbeAfterAwayAsync(ILivenessProbe probe, IPAddress eid)
    {
        var name = Xtr.RangeOf(eid);
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
    private MoveRetry? _retry;

    /// <summary>One reconciliation pass; its repairs run on (their outcomes reach the metrics like any move's).</summary>
    public async Task ReconcileAsync(string cause, CancellationToken cancellationToken)
    {
        if (Reconciler is not { } reconciler) return;
        try
        {
            var report = await reconciler.RunAsync(cause, cancellationToken).ConfigureAwait(false);
            _metrics.Record(report);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogReconcileFailed(e, cause);
        }
    }

    // A Map-Server that acknowledges again after a silence longer than the registration interval was unreachable (or
    // restarted, its registry empty): what changed meanwhile is compared now rather than at the next periodic pass.
    private async Task ReconcileOnReconnectAsync(CancellationToken cancellationToken)
    {
        var last = new Dictionary<IPEndPoint, DateTimeOffset?>();
        var silence = config.Xtr.RegisterInterval * 1.5;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var (ms, acked, _) in Xtr.MapServerStatus())
            {
                var before = last.GetValueOrDefault(ms);
                last[ms] = acked;
                if (acked is not { } now || before is not { } then || now - then <= silence) continue;
                LogReconnected(ms.ToString(), (now - then).TotalSeconds);
                await ReconcileAsync($"reconnected to Map-Server {ms}", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        Stream.Complete();
        try
        {
            await Task.WhenAll(_tasks).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or AggregateException)
        {
            // Stopping: the loops end on cancellation.
        }

        _retry?.Dispose();
        if (Xtr is not null) await Xtr.DisposeAsync().ConfigureAwait(false);
        if (_mapServer is not null) await _mapServer.DisposeAsync().ConfigureAwait(false);
        Store?.Dispose();
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "Started the {Component} on {Endpoints}")]
    private partial void LogStarted(string component, string endpoints);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Registered again the /32s of {Count} EID(s) the journal places at this site; {Skipped} left alone (see the warnings)")]
    private partial void LogRestored(int count, int skipped);

    [LoggerMessage(EventId = 5205, Level = LogLevel.Warning, Message = "{Eid} still answers here although the Map-Server says another site holds it: reported as seen here, to move it back")]
    private partial void LogStillHere(string eid);

    [LoggerMessage(EventId = 5206, Level = LogLevel.Information, Message = "Map-Server {MapServer} acknowledges again after {Seconds:0} s of silence: reconciling")]
    private partial void LogReconnected(string mapServer, double seconds);

    [LoggerMessage(EventId = 5208, Level = LogLevel.Information, Message = "The last run left {Count} EID(s) held away (blackhole routes): probing each here once, in case its VM came back while the agent was down")]
    private partial void LogProbingLeftovers(int count);

    [LoggerMessage(EventId = 5209, Level = LogLevel.Information, Message = "Warmed up the move path in {Milliseconds:0} ms: {Converged} of {Moves} moves converged and {DataPackets} data packets crossed on throwaway engines (nothing registered, journaled, audited or sent); then compiled {Methods} methods of the agent in {JitMilliseconds:0} ms")]
    private partial void LogWarmedUp(double milliseconds, int moves, int converged, int dataPackets, int methods, double jitMilliseconds);

    [LoggerMessage(EventId = 5210, Level = LogLevel.Warning, Message = "The warm-up of the move path failed; the first move pays for first use")]
    private partial void LogWarmUpFailed(Exception exception);

    [LoggerMessage(EventId = 5207, Level = LogLevel.Error, Message = "The reconciliation ({Cause}) failed")]
    private partial void LogReconcileFailed(Exception exception, string cause);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Resumed {Count} unfinished move(s) from the journal; {Converged} converged")]
    private partial void LogResumed(int count, int converged);
}
