using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.HyperV;

/// <summary>
/// Watches the local Hyper-V host through <see cref="IHyperVCim"/>: a sweep at start, then every CIM change and
/// VMMS-Admin live-migration event, translated by <see cref="HyperVTranslator"/>. Where no CIM is available
/// (Linux) it says so at startup and reports nothing.
/// </summary>
public sealed partial class HyperVWatcher : IWorkloadWatcher
{
    private readonly HyperVOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<IHyperVCim?> _cimFactory;
    private readonly HyperVTranslator _translator;
    private readonly Dictionary<string, HyperVVm> _known = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the watcher; without <paramref name="cim"/> it uses WMI on Windows and nothing elsewhere.</summary>
    public HyperVWatcher(HyperVOptions options, SiteMapOptions sites, ILogger<HyperVWatcher> logger, IHyperVCim? cim = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _cimFactory = cim is not null ? () => cim : () => OperatingSystem.IsWindows() ? new WmiHyperVCim() : null;
        _translator = new HyperVTranslator(sites, string.IsNullOrWhiteSpace(options.HostName) ? Environment.MachineName : options.HostName);
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.HyperV;

    /// <inheritdoc />
    public async Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        var cim = _cimFactory();
        if (cim is null)
        {
            LogUnavailable(_logger, Environment.OSVersion.Platform.ToString());
            return;
        }
        var changes = Channel.CreateUnbounded<CimChange>(new UnboundedChannelOptions { SingleReader = true });
        try
        {
            using var subscription = cim.Watch(change => changes.Writer.TryWrite(change));
            foreach (var system in cim.VirtualMachines())
            {
                var id = system.String("Name");
                if (id is not null) await Apply(cim, events, new CimChange(CimChangeKind.Modified, id), ct).ConfigureAwait(false);
            }
            LogStarted(_logger, _known.Count);
            while (!ct.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(_options.AddressRetryInterval);
                CimChange? change = null;
                try { change = await changes.Reader.ReadAsync(wait.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
                if (change is not null)
                {
                    await Apply(cim, events, change, ct).ConfigureAwait(false);
                    continue;
                }
                // VMs reported without addresses (no integration services yet) are read again until they have some.
                foreach (var vm in _known.Values.Where(v => v.IsRunning && v.Addresses.Count == 0).ToArray())
                    await Apply(cim, events, new CimChange(CimChangeKind.Modified, vm.Id), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping is the normal end of a watcher.
        }
        finally
        {
            (cim as IDisposable)?.Dispose();
        }
    }

    private async Task Apply(IHyperVCim cim, IWorkloadEvents events, CimChange change, CancellationToken ct)
    {
        HyperVVm? after;
        try
        {
            after = change.Kind == CimChangeKind.Deleted ? null : HyperVVm.Read(cim, change.VmId);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // WMI throws COM and management exceptions of many types; one unreadable VM must not stop the watcher.
            LogReadFailed(_logger, change.VmId, e.GetType().Name, e.Message);
            return;
        }
        _known.TryGetValue(change.VmId, out var before);
        if (after is null) _known.Remove(change.VmId);
        else _known[change.VmId] = after;
        var fact = _translator.Translate(before, after, change.Kind, _time.GetTimestamp());
        if (after is { ReplicationMode: HyperVVm.TestReplica, IsRunning: true } && before is not { IsRunning: true })
            LogTestFailoverIgnored(_logger, after.Name, after.Id);
        if (fact is null) return;
        LogReported(_logger, fact.Name, fact.WorkloadId, fact.Change.ToString(), fact.Host, fact.Site, fact.PreviousHost,
            string.Join(' ', fact.Addresses), change.Kind.ToString());
        await events.PublishAsync(fact, ct).ConfigureAwait(false);
    }
}
