using System.Net;
using LispMobility.Watchers.HyperV;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.HyperV;

public sealed class HyperVWatcherTests
{
    private const string VmId = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
    private static readonly SiteMapOptions Sites = new()
    {
        HostsToSites = new Dictionary<string, string> { ["hv-lyon-1"] = "lyon", ["hv-paris-1"] = "paris" },
    };

    // The tests run on Linux (CI): there MMI has no libmi, and a Hyper-V watcher in the configuration is an error that says so.
    [Fact]
    public void On_linux_a_hyperv_watcher_in_the_configuration_is_a_validation_error_that_says_why()
    {
        Assert.True(OperatingSystem.IsLinux(), "this test describes the Linux behaviour");
        var error = Assert.Single(new HyperVOptions().Validate());
        Assert.StartsWith("Watchers:HyperV:", error, StringComparison.Ordinal);
        Assert.Contains("Windows only", error, StringComparison.Ordinal);
        Assert.Contains("libmi", error, StringComparison.Ordinal);
        var thrown = Assert.Throws<ArgumentException>(() => new HyperVWatcher(new HyperVOptions(), Sites, new FakeLogger<HyperVWatcher>()));
        Assert.Contains("libmi", thrown.Message, StringComparison.Ordinal);
        Assert.Empty(new HyperVOptions().Validate(onWindows: true));
    }

    [Fact]
    public void Remote_hosts_need_a_computer_name_a_known_authentication_and_a_password_source_for_a_user()
    {
        var options = new HyperVOptions
        {
            Hosts =
            [
                new HyperVHostOptions { ComputerName = "hv-paris-1", UserName = @"CORP\svc-lisp", PasswordEnvironmentVariable = "LISPMOBILITY_HYPERV_PASSWORD" },
                new HyperVHostOptions { UserName = "svc", Authentication = "Telepathy" },
                new HyperVHostOptions { ComputerName = "HV-PARIS-1" },
            ],
        };
        var errors = options.Validate(onWindows: true);
        Assert.Contains(errors, e => e.StartsWith("Watchers:HyperV:Hosts:1:ComputerName", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:HyperV:Hosts:1:Authentication", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:HyperV:Hosts:1:PasswordEnvironmentVariable", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("more than once", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.StartsWith("Watchers:HyperV:Hosts:0", StringComparison.Ordinal));
    }

    [Fact]
    public void Host_password_comes_from_the_environment_or_the_secret_file_and_never_shows()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "s3cret-hv\n");
            var host = new HyperVHostOptions
            {
                ComputerName = "hv-paris-1", UserName = "svc", PasswordEnvironmentVariable = "LISPMOBILITY_TEST_UNSET_" + Guid.NewGuid().ToString("N"), PasswordFile = file,
            };
            Assert.Equal("s3cret-hv", host.ResolvePassword());
            Assert.DoesNotContain("s3cret", host.ToString(), StringComparison.Ordinal);
            Assert.Null((host with { UserName = null }).ResolvePassword()); // the agent's own identity
            var missing = Assert.Throws<InvalidOperationException>(() => (host with { PasswordFile = null }).ResolvePassword());
            Assert.Contains(host.PasswordEnvironmentVariable!, missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Sweeps_then_follows_indications_and_retries_a_vm_without_addresses()
    {
        var cim = new FixtureHyperVCim();
        cim.Change(c =>
        {
            c.Systems[VmId] = MmiShapes.ComputerSystem(VmId, "web1", 2);
            c.Adapters[VmId] = [MmiShapes.SyntheticAdapter(VmId, "00155D0A0B01")];
        });
        var watcher = new HyperVWatcher(new HyperVOptions { HostName = "hv-lyon-1", AddressRetryInterval = TimeSpan.FromMilliseconds(50) },
            Sites, new FakeLogger<HyperVWatcher>(), cim);
        var stream = new WorkloadEventStream();
        using var cts = new CancellationTokenSource();
        var run = watcher.RunAsync(stream, cts.Token);

        var discovered = await Next(stream);
        Assert.Equal((WorkloadChange.Discovered, "lyon"), (discovered.Change, discovered.Site));
        Assert.Empty(discovered.Addresses);

        // Integration services come up: no indication, the retry finds the KVP addresses.
        cim.Change(c => c.Kvps[VmId] = MmiShapes.Kvp(VmId, "10.1.0.10"));
        var withIps = await Next(stream);
        Assert.Contains(IPAddress.Parse("10.1.0.10"), withIps.Addresses);

        var on = MmiShapes.ComputerSystem(VmId, "web1", 2);
        var off = MmiShapes.ComputerSystem(VmId, "web1", 3);
        cim.Change(c => c.Systems[VmId] = off);
        cim.Raise(MmiShapes.Modification(on, off));
        Assert.Equal(WorkloadChange.PoweredOff, (await Next(stream)).Change);

        cim.Raise(MmiShapes.Modification(MmiShapes.HostSystem("hv-lyon-1"), MmiShapes.HostSystem("hv-lyon-1"))); // the host: ignored
        cim.Change(c => c.Systems[VmId] = on);
        cim.Raise(MmiShapes.Modification(off, on));
        Assert.Equal(WorkloadChange.PoweredOn, (await Next(stream)).Change);

        // Live-migrated away: the deletion on this (source) host.
        cim.Change(c => c.Systems.Remove(VmId));
        cim.Raise(MmiShapes.Deletion(on));
        Assert.Equal(WorkloadChange.Gone, (await Next(stream)).Change);

        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task One_watcher_follows_each_listed_host_and_reconnects_a_host_whose_subscription_broke()
    {
        var paris = new FixtureHyperVCim();
        var lyon = new FixtureHyperVCim();
        paris.Change(c => c.Systems[VmId] = MmiShapes.ComputerSystem(VmId, "web1", 2, migrating: true));
        var log = new FakeLogger<HyperVWatcher>();
        var options = new HyperVOptions
        {
            Hosts = [new HyperVHostOptions { ComputerName = "hv-paris-1.corp.example", HostName = "hv-paris-1" }, new HyperVHostOptions { ComputerName = "hv-lyon-1" }],
            AddressRetryInterval = TimeSpan.FromMilliseconds(50),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        };
        var watcher = new HyperVWatcher(options, Sites, log, connect: h => h.Name == "hv-paris-1" ? paris : lyon);
        var stream = new WorkloadEventStream();
        using var cts = new CancellationTokenSource();
        var run = watcher.RunAsync(stream, cts.Token);

        var atParis = await Next(stream);
        Assert.Equal(("hv-paris-1", "paris"), (atParis.Host, atParis.Site));
        await Until(() => lyon.Watching);

        // The live migration: Migrating at the source, the VM created at the destination, then gone from the source.
        var moved = MmiShapes.ComputerSystem(VmId, "web1", 2);
        lyon.Change(c => c.Systems[VmId] = moved);
        lyon.Raise(MmiShapes.Creation(moved));
        var arrived = await Next(stream);
        Assert.Equal((WorkloadChange.Migrated, "hv-lyon-1", "lyon"), (arrived.Change, arrived.Host, arrived.Site));

        // The source's session breaks; the VM leaves meanwhile; the sweep after reconnection finds it gone.
        paris.Break(new IOException("WS-Man connection reset"));
        paris.Change(c => c.Systems.Remove(VmId));
        var gone = await Next(stream);
        Assert.Equal((WorkloadChange.Gone, "hv-paris-1"), (gone.Change, gone.Host));
        // The old session's address retry (every 50 ms here) may read the VM gone before the broken session is noticed:
        // the Gone can come from either; the reconnection must happen all the same.
        await Until(() => paris.Connections == 2);
        Assert.Single(log.Collector.GetSnapshot(), l => l.Id.Id == 4100);
        await Until(() => log.Collector.GetSnapshot().Any(l => l.Id.Id == 4105));

        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static async Task<WorkloadObserved> Next(WorkloadEventStream stream) =>
        await stream.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5 s");
            await Task.Delay(20);
        }
    }
}
