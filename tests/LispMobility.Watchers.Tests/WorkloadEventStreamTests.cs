using System.Net;
using System.Net.NetworkInformation;
using LispMobility.TestSupport;
using LispMobility.Watchers.Simulated;
using Microsoft.Extensions.Time.Testing;

namespace LispMobility.Watchers.Tests;

public sealed class WorkloadEventStreamTests
{
    private static WorkloadObserved Fact(string id) =>
        new(id, id, [], [], "h1", null, WorkloadChange.Discovered, WorkloadSources.Simulated, 1);

    [Fact]
    public async Task Full_stream_makes_the_writer_wait_instead_of_dropping()
    {
        var stream = new WorkloadEventStream(capacity: 2);
        await stream.PublishAsync(Fact("a"), CancellationToken.None);
        await stream.PublishAsync(Fact("b"), CancellationToken.None);
        var third = stream.PublishAsync(Fact("c"), CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(third.IsCompleted);
        Assert.Equal("a", (await stream.Reader.ReadAsync()).WorkloadId);
        await third.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("b", (await stream.Reader.ReadAsync()).WorkloadId);
        Assert.Equal("c", (await stream.Reader.ReadAsync()).WorkloadId);
    }

    [Fact]
    public async Task Waiting_writer_is_released_by_cancellation()
    {
        var stream = new WorkloadEventStream(capacity: 1);
        await stream.PublishAsync(Fact("a"), CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.PublishAsync(Fact("b"), cts.Token).AsTask());
    }

    [Fact]
    public void Capacity_below_one_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkloadEventStream(0));
}

public sealed class SiteMapOptionsTests
{
    [Fact]
    public void Host_mapping_wins_over_cluster_and_lookups_ignore_case()
    {
        var map = new SiteMapOptions
        {
            HostsToSites = new Dictionary<string, string> { ["esx-7"] = "dr" },
            ClustersToSites = new Dictionary<string, string> { ["Prod"] = "paris" },
        };
        Assert.Equal("dr", map.SiteOf(["ESX-7"], ["prod"]));
        Assert.Equal("paris", map.SiteOf(["esx-1", "host-42"], ["domain-c8", "PROD"]));
        Assert.Null(map.SiteOf(["esx-1"], ["other"]));
    }

    [Fact]
    public void Validation_names_the_config_path_of_each_problem()
    {
        var map = new SiteMapOptions { HostsToSites = new Dictionary<string, string> { ["esx-1"] = " " } };
        Assert.Equal(["Watchers:Sites:HostsToSites:esx-1: the site name is empty"], map.Validate());
    }
}

public sealed class SimulatedInventoryWatcherTests
{
    private static readonly SiteMapOptions Sites = new()
    {
        HostsToSites = new Dictionary<string, string> { ["h-paris"] = "paris", ["h-lyon"] = "lyon" },
    };

    [Fact]
    public async Task Migrate_power_on_and_off_publish_facts_with_sites_and_previous_placement()
    {
        var time = new FakeTimeProvider(TestClock.Start);
        var watcher = new SimulatedInventoryWatcher(Sites, time);
        var stream = new WorkloadEventStream();
        using var cts = new CancellationTokenSource();
        var run = watcher.RunAsync(stream, cts.Token);

        var mac = PhysicalAddress.Parse("02-00-00-00-00-01");
        watcher.AddVm("web1", "h-paris", [mac], [IPAddress.Parse("10.1.0.10")]);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(watcher.Migrate("web1", "H-PARIS"));
        watcher.Migrate("web1", "h-lyon");
        watcher.PowerOff("web1");
        watcher.PowerOn("web1", "h-paris");

        var facts = new List<WorkloadObserved>();
        for (var i = 0; i < 4; i++) facts.Add(await stream.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal([WorkloadChange.Discovered, WorkloadChange.Migrated, WorkloadChange.PoweredOff, WorkloadChange.PoweredOn], facts.Select(f => f.Change));
        var migrated = facts[1];
        Assert.Equal(("h-lyon", "lyon", "h-paris", "paris"), (migrated.Host, migrated.Site, migrated.PreviousHost, migrated.PreviousSite));
        Assert.Equal([mac], migrated.Macs);
        Assert.Equal([IPAddress.Parse("10.1.0.10")], migrated.Addresses);
        Assert.Equal("simulated", migrated.Source);
        Assert.Equal(TimeSpan.FromSeconds(1).Ticks, migrated.Timestamp - facts[0].Timestamp);
        Assert.Equal(("h-paris", "paris", "h-lyon"), (facts[3].Host, facts[3].Site, facts[3].PreviousHost));

        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Unknown_vm_is_a_precise_error()
    {
        var watcher = new SimulatedInventoryWatcher(Sites);
        var e = Assert.Throws<KeyNotFoundException>(() => watcher.Migrate("nope", "h-lyon"));
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
    }
}
