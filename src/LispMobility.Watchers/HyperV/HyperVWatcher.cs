using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.HyperV;

/// <summary>
/// Watches the Hyper-V hosts of a site through <see cref="IHyperVCim"/> (one CIM session each; the local host when
/// none is listed): a sweep at start and after every reconnection, then every CIM indication (VM creation, modification,
/// deletion, a completed migration job, a replication state change), translated by <see cref="HyperVTranslator"/>.
/// Runs on Windows only (see <see cref="MmiHyperVCim"/>): elsewhere the configuration is refused.
/// </summary>
public sealed partial class HyperVWatcher : IWorkloadWatcher
{
    private static readonly TimeSpan FirstReconnectDelay = TimeSpan.FromSeconds(1);
    private readonly HyperVOptions _options;
    private readonly SiteMapOptions _sites;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<HyperVHostOptions, IHyperVCim> _connect;
    private readonly IReadOnlyList<HyperVHostOptions> _hosts;

    /// <summary>
    /// Creates the watcher. Without <paramref name="cim"/> or <paramref name="connect"/> it opens MMI sessions, which
    /// needs Windows: the options are then validated for this platform and refused elsewhere.
    /// <paramref name="cim"/> stands for the one (local) host, <paramref name="connect"/> for each listed host.
    /// </summary>
    public HyperVWatcher(HyperVOptions options, SiteMapOptions sites, ILogger<HyperVWatcher> logger, IHyperVCim? cim = null, TimeProvider? time = null,
        Func<HyperVHostOptions, IHyperVCim>? connect = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(logger);
        var injected = cim is not null || connect is not null;
        var errors = options.Validate(onWindows: injected || OperatingSystem.IsWindows());
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _sites = sites;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _hosts = options.Hosts.Count > 0
            ? options.Hosts
            : [new HyperVHostOptions { ComputerName = ".", HostName = string.IsNullOrWhiteSpace(options.HostName) ? Environment.MachineName : options.HostName }];
        _connect = connect ?? (cim is not null ? _ => cim : Connect);
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.HyperV;

    /// <inheritdoc />
    public Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        return Task.WhenAll(_hosts.Select(host => Task.Run(() => WatchHost(host, events, ct), CancellationToken.None)));
    }

    private static IHyperVCim Connect(HyperVHostOptions host) =>
        OperatingSystem.IsWindows() ? new MmiHyperVCim(host) : throw new PlatformNotSupportedException("Microsoft.Management.Infrastructure needs libmi: Windows only");

    // One host: connect, sweep, follow; a lost or refused session is retried with a doubling delay, logged once until it heals.
    private async Task WatchHost(HyperVHostOptions host, IWorkloadEvents events, CancellationToken ct)
    {
        var translator = new HyperVTranslator(_sites, host.Name);
        var known = new Dictionary<string, HyperVVm>(StringComparer.OrdinalIgnoreCase);
        var delay = FirstReconnectDelay;
        var down = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Follow(host, translator, known, events, () => { if (down) LogHostReachable(_logger, host.Name); down = false; delay = FirstReconnectDelay; }, ct)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!down) LogHostUnreachable(_logger, host.Name, e.GetType().Name, e.Message);
                down = true;
                try { await Task.Delay(delay, _time, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
            }
        }
    }

    private async Task Follow(HyperVHostOptions host, HyperVTranslator translator, Dictionary<string, HyperVVm> known, IWorkloadEvents events,
        Action connected, CancellationToken ct)
    {
        var cim = _connect(host);
        var changes = Channel.CreateUnbounded<CimChange>(new UnboundedChannelOptions { SingleReader = true });
        Exception? broken = null;
        try
        {
            using var subscription = cim.Watch(indication =>
            {
                if (HyperVIndications.MigrationStarted(indication))
                    LogMigrating(_logger, indication.Instance("TargetInstance")?.String("ElementName") ?? "?", host.Name);
                if (HyperVIndications.ToChange(indication) is { } change) changes.Writer.TryWrite(change);
            }, error =>
            {
                broken = error;
                changes.Writer.TryComplete(error);
            });
            var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var system in cim.VirtualMachines())
            {
                var id = system.String("Name");
                if (id is null) continue;
                present.Add(id);
                await Apply(cim, translator, known, host, events, new CimChange(CimChangeKind.Modified, id), ct).ConfigureAwait(false);
            }
            // VMs that left while the session was down (migrated away, deleted).
            foreach (var gone in known.Keys.Where(k => !present.Contains(k)).ToArray())
                await Apply(cim, translator, known, host, events, new CimChange(CimChangeKind.Deleted, gone), ct).ConfigureAwait(false);
            connected();
            LogStarted(_logger, host.Name, known.Count);
            while (!ct.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(_options.AddressRetryInterval);
                CimChange? change = null;
                try { change = await changes.Reader.ReadAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
                catch (ChannelClosedException) { throw broken ?? new InvalidOperationException("the CIM subscription ended"); }
                if (change is not null)
                {
                    await Apply(cim, translator, known, host, events, change, ct).ConfigureAwait(false);
                    continue;
                }
                // VMs reported without addresses (no integration services yet) are read again until they have some.
                foreach (var vm in known.Values.Where(v => v.IsRunning && v.Addresses.Count == 0).ToArray())
                    await Apply(cim, translator, known, host, events, new CimChange(CimChangeKind.Modified, vm.Id), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            (cim as IDisposable)?.Dispose();
        }
    }

    private async Task Apply(IHyperVCim cim, HyperVTranslator translator, Dictionary<string, HyperVVm> known, HyperVHostOptions host,
        IWorkloadEvents events, CimChange change, CancellationToken ct)
    {
        HyperVVm? after;
        try
        {
            after = change.Kind == CimChangeKind.Deleted ? null : HyperVVm.Read(cim, change.VmId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // CIM throws CimException for one VM as for a lost host: one unreadable VM must not stop the watcher.
            LogReadFailed(_logger, change.VmId, host.Name, e.GetType().Name, e.Message);
            return;
        }
        known.TryGetValue(change.VmId, out var before);
        if (after is null) known.Remove(change.VmId);
        else known[change.VmId] = after;
        var fact = translator.Translate(before, after, change.Kind, _time.GetTimestamp());
        if (after is { ReplicationMode: HyperVVm.TestReplica, IsRunning: true } && before is not { IsRunning: true })
            LogTestFailoverIgnored(_logger, after.Name, after.Id);
        if (fact is null) return;
        LogReported(_logger, fact.Name, fact.WorkloadId, fact.Change.ToString(), fact.Host, fact.Site, fact.PreviousHost,
            string.Join(' ', fact.Addresses), change.Kind.ToString());
        await events.PublishAsync(fact, ct).ConfigureAwait(false);
    }
}
