using System.Net;
using LispMobility.Watchers.HyperV;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.HyperV;

public sealed class HyperVWatcherTests
{
    private const string VmId = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    private static readonly SiteMapOptions Sites = new() { HostsToSites = new Dictionary<string, string> { ["hv-lyon-1"] = "lyon" } };

    // The tests run on Linux (CI): there the watcher must refuse to pretend, loudly.
    [Fact]
    public async Task On_linux_it_says_it_is_unavailable_and_returns()
    {
        Assert.True(OperatingSystem.IsLinux(), "this test describes the Linux behaviour");
        var log = new FakeLogger<HyperVWatcher>();
        var watcher = new HyperVWatcher(new HyperVOptions(), Sites, log);
        await watcher.RunAsync(new WorkloadEventStream(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains(log.Collector.GetSnapshot(), l => l.Id.Id == 1100 && l.Message.Contains("not available", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sweeps_then_follows_changes_and_retries_a_vm_without_addresses()
    {
        var cim = new FixtureHyperVCim();
        cim.Change(c =>
        {
            c.Systems[VmId] = WmiShapes.ComputerSystem(VmId, "web1", 2);
            c.Adapters[VmId] = [WmiShapes.SyntheticAdapter(VmId, "00155D0A0B01")];
        });
        var watcher = new HyperVWatcher(new HyperVOptions { HostName = "hv-lyon-1", AddressRetryInterval = TimeSpan.FromMilliseconds(50) },
            Sites, new FakeLogger<HyperVWatcher>(), cim);
        var stream = new WorkloadEventStream();
        using var cts = new CancellationTokenSource();
        var run = watcher.RunAsync(stream, cts.Token);

        var discovered = await Next(stream);
        Assert.Equal((WorkloadChange.Discovered, "lyon"), (discovered.Change, discovered.Site));
        Assert.Empty(discovered.Addresses);

        // Integration services come up: no WMI event, the retry finds the KVP addresses.
        cim.Change(c => c.Kvps[VmId] = WmiShapes.Kvp(VmId, "10.1.0.10"));
        var withIps = await Next(stream);
        Assert.Contains(IPAddress.Parse("10.1.0.10"), withIps.Addresses);

        cim.Change(c => c.Systems[VmId] = WmiShapes.ComputerSystem(VmId, "web1", 3));
        cim.Raise(new CimChange(CimChangeKind.Modified, VmId));
        Assert.Equal(WorkloadChange.PoweredOff, (await Next(stream)).Change);

        cim.Raise(new CimChange(CimChangeKind.Modified, "not-a-vm-here"));
        cim.Change(c => c.Systems.Remove(VmId));
        cim.Change(c => c.Systems[VmId] = WmiShapes.ComputerSystem(VmId, "web1", 2));
        cim.Raise(new CimChange(CimChangeKind.Modified, VmId));
        Assert.Equal(WorkloadChange.PoweredOn, (await Next(stream)).Change);

        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static async Task<WorkloadObserved> Next(WorkloadEventStream stream) =>
        await stream.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
}
