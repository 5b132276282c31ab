using System.Net;
using System.Net.NetworkInformation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace LispMobility.Watchers.VCenter;

/// <summary>
/// Watches one vCenter: a full reconciliation through REST at start, after every reconnection and every
/// <see cref="VCenterOptions.ReconciliationInterval"/>; between them the vim25 change feed, so a vMotion is reported
/// within a second. An outage is logged once and heals by itself; while vCenter is unreachable nothing is reported.
/// </summary>
public sealed partial class VCenterWatcher : IWorkloadWatcher, IDisposable
{
    private static readonly TimeSpan FirstReconnectDelay = TimeSpan.FromMilliseconds(250);
    private readonly VCenterOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ServiceProvider _services;
    private readonly VsphereSession _session;
    private readonly VsphereRestClient _api;
    private readonly IHttpClientFactory _httpClients;
    private readonly VCenterInventory _inventory;
    private readonly SiteMapOptions _sites;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool? _reachable;
    private long _unreachableSince;
    private string? _tlsRejection;

    /// <summary>Creates the watcher; the options are validated here, every problem at once.</summary>
    public VCenterWatcher(VCenterOptions options, SiteMapOptions sites, ILogger<VCenterWatcher> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate().Concat(sites.Validate()).ToList();
        if (options.Url?.UserInfo is { Length: > 0 }) errors.Add($"{VCenterOptions.Section}:{nameof(VCenterOptions.Url)}: must not carry credentials");
        if (errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _sites = sites;
        _inventory = new VCenterInventory(sites);
        // The agent's composition gives no service provider: the watcher builds its own HttpClient pipeline (Refit client,
        // resilience, session handler, pinned-certificate transport) from the options, and disposes it with itself.
        _services = new ServiceCollection()
            .AddVsphereClients(new VsphereClientOptions(options.Url!, () => VCenterCredentials.Resolve(options), logger, options.RequestTimeout,
                () => PinnedCertificate.CreateHandler(options.CertificateThumbprint, reason => _tlsRejection = reason), _time))
            .BuildServiceProvider();
        _session = _services.GetRequiredService<VsphereSession>();
        _api = _services.GetRequiredService<VsphereRestClient>();
        _httpClients = _services.GetRequiredService<IHttpClientFactory>();
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.VCenter;

    /// <summary>The change feed's current SOAP session key, null while no feed is open (tests revoke it).</summary>
    internal string? FeedSessionKey => _feed?.SessionKey;

    private VimChangeFeed? _feed;

    /// <summary>The REST client (for the agent's own checks, and tests).</summary>
    public IVsphereApi Api => _api;

    /// <inheritdoc />
    public async Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        _ = _session.Credentials; // a missing password is a configuration error: fail at start, not in the loop
        var delay = FirstReconnectDelay;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(events, ct).ConfigureAwait(false);
                await FollowFeed(events, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (VimSessionLostException e)
            {
                // Reopen at once, but never spin: a vCenter that keeps dropping sessions still gets a pause.
                LogSessionLost(_logger, e.Message);
                try { await Task.Delay(FirstReconnectDelay, _time, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            catch (Exception e) when (IsOutage(e))
            {
                MarkUnreachable(e);
                try { await Task.Delay(delay, _time, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
                continue;
            }
            delay = FirstReconnectDelay;
        }
    }

    /// <summary>
    /// The full reconciliation through REST (the scheduled job): every host's VM list (filtered per host, never the
    /// capped unfiltered list), guest interfaces where needed; differences from the known state are published.
    /// </summary>
    public async Task ReconcileAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        var api = _api;
        var hosts = await api.ListHostsAsync(ct).ConfigureAwait(false);
        var clusters = await api.ListClustersAsync(ct).ConfigureAwait(false);
        var clusterOf = new Dictionary<string, VsphereCluster>(StringComparer.Ordinal);
        foreach (var cluster in clusters)
        {
            foreach (var member in await api.ListHostsInClusterAsync(cluster.Cluster, ct).ConfigureAwait(false)) clusterOf[member.Host] = cluster;
        }
        var placements = hosts.Select(h =>
        {
            var cluster = clusterOf.GetValueOrDefault(h.Host);
            return new HostPlacement(h.Host, h.Name, cluster?.Cluster, cluster?.Name,
                _sites.SiteOf([h.Host, h.Name], [cluster?.Cluster, cluster?.Name]));
        }).ToList();

        var observed = new List<VmState>();
        foreach (var host in hosts.Where(h => h.ConnectionState is null or "CONNECTED"))
        {
            foreach (var vm in await api.ListVmsOnHostAsync(host.Host, ct).ConfigureAwait(false))
            {
                var poweredOn = vm.PowerState == "POWERED_ON";
                IReadOnlyList<PhysicalAddress> macs = [];
                IReadOnlyList<IPAddress> addresses = [];
                await _gate.WaitAsync(ct).ConfigureAwait(false);
                VmState? known;
                try { known = _inventory.Get(vm.Vm); }
                finally { _gate.Release(); }
                var settled = known is not null && known.HostId == host.Host && known.PoweredOn == poweredOn && known.Addresses.Count > 0;
                if (settled) (macs, addresses) = (known!.Macs, known.Addresses);
                else (macs, addresses) = await GuestNetworking(api, vm.Vm, poweredOn, ct).ConfigureAwait(false);
                observed.Add(new VmState(vm.Vm, vm.Name, host.Host, poweredOn, macs, addresses));
            }
        }

        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            _inventory.SetHosts(placements);
            MarkReachable();
            var facts = observed.Select(vm => _inventory.Apply(vm, _time.GetTimestamp())).ToList();
            var present = observed.Select(v => v.Id).ToHashSet(StringComparer.Ordinal);
            facts.AddRange(_inventory.Vms.Where(v => !present.Contains(v.Id)).Select(v => v.Id).ToList()
                .Select(id => _inventory.Remove(id, _time.GetTimestamp())));
            foreach (var fact in facts.OfType<WorkloadObserved>()) await Publish(events, fact, "reconciliation", ct).ConfigureAwait(false);
            LogReconciled(_logger, hosts.Count, observed.Count);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _services.Dispose();
        _gate.Dispose();
    }

    private async Task FollowFeed(IWorkloadEvents events, CancellationToken ct)
    {
        var http = _httpClients.CreateClient(VsphereServiceCollectionExtensions.SoapClient);
        await using var feed = new VimChangeFeed(http, _session.Credentials, _logger, _options.RequestTimeout);
        await feed.OpenAsync(ct).ConfigureAwait(false);
        _feed = feed;
        var reconcileAt = _time.GetTimestamp() + (long)(_options.ReconciliationInterval.TotalSeconds * _time.TimestampFrequency);
        while (!ct.IsCancellationRequested)
        {
            var updates = await feed.WaitAsync(_options.FeedWait, ct).ConfigureAwait(false);
            foreach (var update in updates) await Apply(events, update, ct).ConfigureAwait(false);
            if (_time.GetTimestamp() >= reconcileAt)
            {
                await ReconcileAsync(events, ct).ConfigureAwait(false);
                reconcileAt = _time.GetTimestamp() + (long)(_options.ReconciliationInterval.TotalSeconds * _time.TimestampFrequency);
            }
        }
    }

    private async Task Apply(IWorkloadEvents events, VimVmUpdate update, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            WorkloadObserved? fact;
            if (update.Kind == "leave")
            {
                fact = _inventory.Remove(update.Vm, _time.GetTimestamp());
            }
            else
            {
                var known = _inventory.Get(update.Vm);
                var macs = update.GuestNet?.Select(n => n.MacAddress).OfType<string>()
                    .Select(m => PhysicalAddress.TryParse(m.Replace(':', '-'), out var mac) ? mac : null).OfType<PhysicalAddress>().Distinct().ToArray();
                var addresses = update.GuestNet?.SelectMany(n => n.Addresses).Where(a => !a.IsIPv6LinkLocal).Distinct().ToArray();
                var next = new VmState(update.Vm, update.Name ?? known?.Name ?? update.Vm, update.HostId ?? known?.HostId,
                    update.PowerState is { } power ? power == "poweredOn" : known?.PoweredOn ?? false,
                    macs is { Length: > 0 } ? macs : known?.Macs ?? [], addresses ?? known?.Addresses ?? []);
                fact = _inventory.Apply(next, _time.GetTimestamp());
            }
            if (fact is not null) await Publish(events, fact, "change feed", ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    // Addresses from the guest (VMware Tools); a VM without Tools gets its MACs from its hardware and is retried at the next reconciliation.
    private async Task<(IReadOnlyList<PhysicalAddress>, IReadOnlyList<IPAddress>)> GuestNetworking(IVsphereApi api, string vm, bool poweredOn, CancellationToken ct)
    {
        if (poweredOn && await api.GetGuestInterfacesAsync(vm, ct).ConfigureAwait(false) is { Count: > 0 } interfaces)
        {
            var macs = interfaces.Select(i => ParseMac(i.MacAddress)).OfType<PhysicalAddress>().Distinct().ToArray();
            var ips = interfaces.SelectMany(i => i.Ip?.IpAddresses ?? []).Select(a => IPAddress.TryParse(a.IpAddress, out var ip) ? ip : null)
                .OfType<IPAddress>().Where(a => !a.IsIPv6LinkLocal).Distinct().ToArray();
            if (ips.Length > 0) return (macs, ips);
        }
        var info = await api.GetVmAsync(vm, ct).ConfigureAwait(false);
        var hardware = info?.Nics?.Values.Select(n => ParseMac(n.MacAddress)).OfType<PhysicalAddress>().Distinct().ToArray() ?? [];
        return (hardware, []);
    }

    private static PhysicalAddress? ParseMac(string? text) =>
        text is not null && PhysicalAddress.TryParse(text.Replace(':', '-'), out var mac) ? mac : null;

    private async Task Publish(IWorkloadEvents events, WorkloadObserved fact, string via, CancellationToken ct)
    {
        LogReported(_logger, fact.Name, fact.WorkloadId, fact.Change.ToString(), fact.Host, fact.Site, fact.PreviousHost, fact.PreviousSite,
            string.Join(' ', fact.Addresses), via);
        await events.PublishAsync(fact, ct).ConfigureAwait(false);
    }

    private static bool IsOutage(Exception e) =>
        e is HttpRequestException or VsphereException or BrokenCircuitException or TimeoutRejectedException or IOException
        || (e is OperationCanceledException && e.InnerException is TimeoutException);

    private void MarkUnreachable(Exception e)
    {
        var reason = e is HttpRequestException && _tlsRejection is { } tls ? $"TLS: {tls}" : e.Message;
        if (_reachable != false)
        {
            _reachable = false;
            _unreachableSince = _time.GetTimestamp();
            if (e is VsphereAuthenticationException) LogCredentialsRejected(_logger, _options.Url!.Host, reason);
            else LogUnreachable(_logger, _options.Url!.Host, reason);
        }
        else
        {
            LogStillUnreachable(_logger, _options.Url!.Host, reason);
        }
    }

    private void MarkReachable()
    {
        if (_reachable == false) LogReachableAgain(_logger, _options.Url!.Host, _time.GetElapsedTime(_unreachableSince));
        _reachable = true;
        _tlsRejection = null;
    }
}
