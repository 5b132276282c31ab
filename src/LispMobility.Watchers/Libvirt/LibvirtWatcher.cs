using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LispMobility.Watchers.Libvirt;

/// <summary>
/// Watches KVM hosts through libvirt (one connection per host, local or remote): a full inventory of the running domains on
/// every (re)connection, then each lifecycle event, translated by <see cref="LibvirtLifecycle"/> into
/// <see cref="WorkloadObserved"/> facts with the domain's MACs and addresses. A host that refuses or drops the connection is
/// retried with back-off; libvirt's event loop runs on a thread shared by the watchers of the process and stops with the last.
/// </summary>
public sealed partial class LibvirtWatcher : IWorkloadWatcher
{
    private readonly LibvirtOptions _options;
    private readonly SiteMapOptions _sites;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, LibvirtConnection> _open = new(StringComparer.Ordinal);

    /// <summary>Creates the watcher from validated options (throws listing every problem otherwise).</summary>
    public LibvirtWatcher(LibvirtOptions options, SiteMapOptions sites, ILogger<LibvirtWatcher> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _sites = sites;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.Libvirt;

    /// <summary>Connections open now, by URI.</summary>
    public IReadOnlyCollection<string> Connected => [.. _open.Keys];

    /// <inheritdoc />
    public async Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        IDisposable loop;
        try
        {
            loop = LibvirtEventLoop.Acquire();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Validation checks the library; it can still vanish between that and here (a package removed): said, not thrown.
            LogLibraryMissing(e.Message);
            return;
        }

        using (loop)
        {
            await Task.WhenAll(_options.Connections.Select(c => Task.Run(() => WatchHostAsync(c, events, ct), CancellationToken.None))).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Marks the connection to <paramref name="uri"/> as dropped, as libvirt's close callback does when libvirtd goes away;
    /// the watcher then reconnects with back-off. True when such a connection was open.
    /// </summary>
    internal bool MarkDropped(string uri)
    {
        if (!_open.TryGetValue(uri, out var connection)) return false;
        connection.MarkClosed(-1);
        return true;
    }

    private async Task WatchHostAsync(LibvirtConnectionOptions target, IWorkloadEvents events, CancellationToken ct)
    {
        var backoff = _options.ReconnectMin;
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            LibvirtConnection connection;
            try
            {
                connection = LibvirtConnection.Open(target.Uri);
            }
            catch (LibvirtException e)
            {
                if (failures++ == 0) LogConnectFailed(target.Uri, e.Message, backoff.TotalSeconds);
                else LogConnectRetry(target.Uri, e.Message, failures, backoff.TotalSeconds);
                if (!await DelayAsync(backoff, ct).ConfigureAwait(false)) return;
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectMax.Ticks));
                continue;
            }

            backoff = _options.ReconnectMin;
            failures = 0;
            using (connection)
            {
                _open[target.Uri] = connection;
                try
                {
                    var host = string.IsNullOrWhiteSpace(target.Host) ? connection.Hostname() ?? target.Uri : target.Host;
                    var session = new HostSession(this, connection, host, _sites.SiteOf(host), events);
                    await session.RunAsync(ct).ConfigureAwait(false);
                }
                catch (LibvirtException e)
                {
                    LogHostFailed(target.Uri, e.Message);
                }
                finally
                {
                    _open.TryRemove(target.Uri, out _);
                }
            }

            if (ct.IsCancellationRequested) return;
            LogDropped(target.Uri, _options.ReconnectMin.TotalSeconds);
            if (!await DelayAsync(_options.ReconnectMin, ct).ConfigureAwait(false)) return;
        }
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One connected host: its inventory, its events, and the domains still waiting for an address.</summary>
    private sealed class HostSession(LibvirtWatcher watcher, LibvirtConnection connection, string host, string? site, IWorkloadEvents events)
    {
        private readonly Dictionary<string, LibvirtDomain> _reported = new(StringComparer.Ordinal);
        private readonly Dictionary<string, WorkloadChange> _waitingForAddress = new(StringComparer.Ordinal);
        private readonly IReadOnlyList<uint> _sources = watcher._options.SourceCodes;

        public async Task RunAsync(CancellationToken ct)
        {
            var domains = connection.RunningDomains(_sources);
            foreach (var d in domains) await ReportAsync(d, WorkloadChange.Discovered, ct).ConfigureAwait(false);
            watcher.LogConnected(host, site ?? "(none: add it to Watchers:Sites)", domains.Count);
            var tick = TimeSpan.FromTicks(Math.Min(watcher._options.AliveCheckInterval.Ticks, watcher._options.AddressRetryInterval.Ticks));
            var reader = connection.Events.Reader;
            while (!ct.IsCancellationRequested)
            {
                bool more;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    wait.CancelAfter(tick);
                    try
                    {
                        more = await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        if (!connection.IsAlive) return;
                        await RetryAddressesAsync(ct).ConfigureAwait(false);
                        continue;
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                if (!more) return; // closed under us
                while (reader.TryRead(out var e)) await ApplyAsync(e, ct).ConfigureAwait(false);
            }
        }

        private async Task ApplyAsync(LifecycleEvent e, CancellationToken ct)
        {
            var change = LibvirtLifecycle.Translate(e.Event, e.Detail);
            watcher.LogLifecycle(e.Name, host, e.Event, e.Detail, change?.ToString() ?? "no placement change");
            if (change is null) return;
            if (change is WorkloadChange.PoweredOff or WorkloadChange.Gone)
            {
                _waitingForAddress.Remove(e.Uuid);
                // Reported with what it had: a stopped or departed domain no longer shows its interfaces.
                var last = _reported.Remove(e.Uuid, out var known) ? known : new LibvirtDomain(e.Uuid, e.Name, false, [], []);
                await PublishAsync(last, change.Value, ct).ConfigureAwait(false);
                return;
            }

            var domain = connection.Domain(e.Uuid, _sources);
            if (domain is null) return;
            await ReportAsync(domain, change.Value, ct).ConfigureAwait(false);
        }

        private async Task ReportAsync(LibvirtDomain domain, WorkloadChange change, CancellationToken ct)
        {
            if (domain.Addresses.Count == 0)
            {
                // Booting, or no lease or guest agent yet: read again every AddressRetryInterval while it runs.
                _waitingForAddress[domain.Uuid] = change;
                return;
            }

            _waitingForAddress.Remove(domain.Uuid);
            _reported[domain.Uuid] = domain;
            await PublishAsync(domain, change, ct).ConfigureAwait(false);
        }

        private async Task RetryAddressesAsync(CancellationToken ct)
        {
            foreach (var (uuid, change) in _waitingForAddress.ToList())
            {
                var domain = connection.Domain(uuid, _sources);
                if (domain is null || !domain.Running) _waitingForAddress.Remove(uuid);
                else await ReportAsync(domain, change, ct).ConfigureAwait(false);
            }
        }

        private ValueTask PublishAsync(LibvirtDomain d, WorkloadChange change, CancellationToken ct) =>
            events.PublishAsync(new WorkloadObserved(d.Uuid, d.Name, d.Macs, d.Addresses, host, site, change, WorkloadSources.Libvirt, watcher._time.GetTimestamp()), ct);
    }
}
