using System.Net;
using System.Net.NetworkInformation;
using System.Threading.Channels;

namespace LispMobility.Watchers.Simulated;

/// <summary>
/// An in-memory hypervisor inventory for labs and system tests: hosts are placed in sites by <see cref="SiteMapOptions"/>,
/// and <see cref="Migrate"/>, <see cref="PowerOn"/>, <see cref="PowerOff"/> publish the facts a real watcher would.
/// </summary>
public sealed class SimulatedInventoryWatcher : IWorkloadWatcher
{
    private readonly object _gate = new();
    private readonly Dictionary<string, SimulatedVm> _vms = new(StringComparer.OrdinalIgnoreCase);
    // Facts made before or while RunAsync runs wait here; unbounded because a lab makes a handful of them.
    private readonly Channel<WorkloadObserved> _pending = Channel.CreateUnbounded<WorkloadObserved>();
    private readonly SiteMapOptions _sites;
    private readonly TimeProvider _time;

    /// <summary>Creates an empty inventory.</summary>
    public SimulatedInventoryWatcher(SiteMapOptions sites, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(sites);
        _sites = sites;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name => WorkloadSources.Simulated;

    /// <summary>Adds a VM on a host; a powered-on VM is reported as discovered.</summary>
    public WorkloadObserved? AddVm(string name, string host, IEnumerable<PhysicalAddress> macs, IEnumerable<IPAddress> addresses, bool poweredOn = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentNullException.ThrowIfNull(macs);
        ArgumentNullException.ThrowIfNull(addresses);
        lock (_gate)
        {
            if (_vms.ContainsKey(name)) throw new InvalidOperationException($"VM '{name}' already exists in the simulated inventory");
            var vm = new SimulatedVm($"sim-{name}", name, [.. macs], [.. addresses]) { Host = host, PoweredOn = poweredOn };
            _vms.Add(name, vm);
            return poweredOn ? Emit(vm, WorkloadChange.Discovered, null) : null;
        }
    }

    /// <summary>Live-migrates a VM to another host (a no-op, returning null, when it is already there).</summary>
    public WorkloadObserved? Migrate(string vmName, string toHost)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(toHost);
        lock (_gate)
        {
            var vm = Find(vmName);
            if (string.Equals(vm.Host, toHost, StringComparison.OrdinalIgnoreCase)) return null;
            var from = vm.Host;
            vm.Host = toHost;
            return Emit(vm, vm.PoweredOn ? WorkloadChange.Migrated : WorkloadChange.Discovered, from);
        }
    }

    /// <summary>Powers a VM on, optionally on another host (a cold DR start); null when it was already running there.</summary>
    public WorkloadObserved? PowerOn(string vmName, string? onHost = null)
    {
        lock (_gate)
        {
            var vm = Find(vmName);
            var from = vm.Host;
            var moved = onHost is not null && !string.Equals(onHost, vm.Host, StringComparison.OrdinalIgnoreCase);
            if (vm.PoweredOn && !moved) return null;
            if (moved) vm.Host = onHost!;
            vm.PoweredOn = true;
            return Emit(vm, WorkloadChange.PoweredOn, moved ? from : null);
        }
    }

    /// <summary>Powers a VM off; null when it was already off.</summary>
    public WorkloadObserved? PowerOff(string vmName)
    {
        lock (_gate)
        {
            var vm = Find(vmName);
            if (!vm.PoweredOn) return null;
            vm.PoweredOn = false;
            return Emit(vm, WorkloadChange.PoweredOff, null);
        }
    }

    /// <inheritdoc />
    public async Task RunAsync(IWorkloadEvents events, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(events);
        try
        {
            await foreach (var fact in _pending.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await events.PublishAsync(fact, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping is the normal end of a watcher.
        }
    }

    private SimulatedVm Find(string vmName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(vmName);
        return _vms.TryGetValue(vmName, out var vm)
            ? vm
            : throw new KeyNotFoundException($"VM '{vmName}' is not in the simulated inventory");
    }

    private WorkloadObserved Emit(SimulatedVm vm, WorkloadChange change, string? previousHost)
    {
        var fact = new WorkloadObserved(
            vm.Id, vm.Name, vm.Macs, vm.Addresses, vm.Host, _sites.SiteOf(vm.Host), change, Name, _time.GetTimestamp(),
            previousHost, previousHost is null ? null : _sites.SiteOf(previousHost));
        _pending.Writer.TryWrite(fact);
        return fact;
    }

    private sealed class SimulatedVm(string id, string name, IReadOnlyList<PhysicalAddress> macs, IReadOnlyList<IPAddress> addresses)
    {
        public string Id { get; } = id;
        public string Name { get; } = name;
        public IReadOnlyList<PhysicalAddress> Macs { get; } = macs;
        public IReadOnlyList<IPAddress> Addresses { get; } = addresses;
        public required string Host { get; set; }
        public bool PoweredOn { get; set; }
    }
}
