using System.Net;
using System.Net.NetworkInformation;
using LispMobility.TestSupport.Libvirt;
using LispMobility.Watchers.Libvirt;
using Microsoft.Extensions.Logging.Abstractions;

namespace LispMobility.Watchers.Tests.Libvirt;

/// <summary>The libvirt watcher against libvirt's own test driver, in process (one at a time: test:///default is shared).</summary>
[Collection("libvirt")]
public sealed class LibvirtWatcherTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("lispmobility-libvirt-").FullName;
    private readonly SiteMapOptions _sites = new() { HostsToSites = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["kvm-dc2-01"] = "dc2" } };
    private readonly WorkloadEventStream _events = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;
    private LibvirtWatcher? _watcher;

    private static LibvirtOptions Options(string uri) => new()
    {
        Connections = [new() { Uri = uri, Host = "kvm-dc2-01" }],
        ReconnectMin = TimeSpan.FromMilliseconds(200),
        ReconnectMax = TimeSpan.FromMilliseconds(400),
        AddressRetryInterval = TimeSpan.FromMilliseconds(200),
        AliveCheckInterval = TimeSpan.FromMilliseconds(200),
    };

    private void Start(string uri)
    {
        _watcher = new LibvirtWatcher(Options(uri), _sites, NullLogger<LibvirtWatcher>.Instance);
        _run = _watcher.RunAsync(_events, _stop.Token);
    }

    private async Task<WorkloadObserved> NextAsync(Func<WorkloadObserved, bool> match, string what)
    {
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            while (true)
            {
                var fact = await _events.Reader.ReadAsync(timeout.Token);
                if (match(fact)) return fact;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"not within {Patience.TotalSeconds} s: {what}");
        }
    }

    private string NodeFile() => Path.Combine(_dir, "node.xml");

    // A host with the network 172.16.4.0/24 and two running domains: the test driver leases them addresses from its range.
    private const string Node = """
        <node>
          <network><name>default</name><bridge name='virbr0'/><forward/>
            <ip address='172.16.4.1' netmask='255.255.255.0'><dhcp><range start='172.16.4.10' end='172.16.4.200'/></dhcp></ip></network>
          <domain type='test'><name>web-01</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>1048576</memory><os><type>hvm</type></os>
            <devices><interface type='network'><mac address='52:54:00:aa:00:01'/><source network='default'/></interface></devices></domain>
          <domain type='test'><name>db-01</name><memory>1048576</memory><os><type>hvm</type></os>
            <devices><interface type='network'><mac address='52:54:00:aa:00:02'/><source network='default'/></interface>
                     <interface type='network'><mac address='52:54:00:aa:00:03'/><source network='default'/></interface></devices></domain>
        </node>
        """;

    [Fact]
    public async Task On_connect_every_running_domain_is_reported_with_its_macs_addresses_host_and_site()
    {
        await File.WriteAllTextAsync(NodeFile(), Node);
        Start("test://" + NodeFile());

        var first = await NextAsync(f => f.Name is "web-01" or "db-01", "a domain discovered");
        var second = await NextAsync(f => f.Name is "web-01" or "db-01" && f.Name != first.Name, "the other domain discovered");
        var (web, db) = first.Name == "web-01" ? (first, second) : (second, first);

        Assert.Equal(WorkloadChange.Discovered, web.Change);
        Assert.Equal("6695eb01-f6a4-8304-79aa-97f2502e193f", web.WorkloadId);
        Assert.Equal([PhysicalAddress.Parse("52-54-00-AA-00-01")], web.Macs);
        var address = Assert.Single(web.Addresses);
        Assert.StartsWith("172.16.4.", address.ToString(), StringComparison.Ordinal);
        Assert.Equal(("kvm-dc2-01", "dc2", WorkloadSources.Libvirt), (web.Host, web.Site, web.Source));
        Assert.Equal(2, db.Macs.Count);
        Assert.Equal(2, db.Addresses.Count);
    }

    [Fact]
    public async Task Define_start_suspend_resume_destroy_undefine_report_power_on_power_off_and_gone()
    {
        Start("test:///default");
        await NextAsync(f => f.Change == WorkloadChange.Discovered, "the test driver's own domain discovered");
        using var driver = new LibvirtTestDriver();
        using var vm = driver.Define("app-07", "52:54:00:00:07:01");

        vm.Start();
        var on = await NextAsync(f => f.Name == "app-07", "app-07 started");
        Assert.Equal(WorkloadChange.PoweredOn, on.Change);
        Assert.StartsWith("192.168.122.", on.Addresses.Single().ToString(), StringComparison.Ordinal);
        Assert.Equal([PhysicalAddress.Parse("52-54-00-00-07-01")], on.Macs);

        vm.Suspend(); // a pause moves nothing
        vm.Resume();
        vm.Destroy();
        var off = await NextAsync(f => f.Name == "app-07", "app-07 destroyed");
        Assert.Equal(WorkloadChange.PoweredOff, off.Change);
        Assert.Equal(on.Addresses, off.Addresses); // reported with what it had

        vm.Undefine();
        var gone = await NextAsync(f => f.Name == "app-07", "app-07 undefined");
        Assert.Equal(WorkloadChange.Gone, gone.Change);
    }

    [Fact]
    public async Task A_host_that_refuses_the_connection_is_retried_and_inventoried_once_it_answers()
    {
        Start("test://" + NodeFile()); // the file (the "host") is not there yet: libvirt refuses
        await Task.Delay(700);
        Assert.Empty(_watcher!.Connected);

        await File.WriteAllTextAsync(NodeFile(), Node);
        var web = await NextAsync(f => f.Name == "web-01", "web-01 discovered after the host came back");
        Assert.Equal(WorkloadChange.Discovered, web.Change);
    }

    [Fact]
    public async Task A_dropped_connection_is_reopened_and_the_inventory_read_again()
    {
        await File.WriteAllTextAsync(NodeFile(), Node);
        var uri = "test://" + NodeFile();
        Start(uri);
        await NextAsync(f => f.Name == "web-01", "first inventory");

        Assert.True(_watcher!.MarkDropped(uri)); // what libvirt's close callback does when libvirtd goes away

        var again = await NextAsync(f => f.Name == "web-01", "inventory after reconnecting");
        Assert.Equal(WorkloadChange.Discovered, again.Change);
    }

    [Fact]
    public async Task Stopping_ends_the_watcher_and_its_event_loop_thread()
    {
        await File.WriteAllTextAsync(NodeFile(), Node);
        Start("test://" + NodeFile());
        await NextAsync(f => f.Name == "web-01", "inventory");

        await _stop.CancelAsync();
        await _run!.WaitAsync(Patience);
        Assert.Empty(_watcher!.Connected);
        Assert.False(LibvirtEventLoop.IsRunning);
    }

    [Theory]
    [InlineData(2, 0, WorkloadChange.PoweredOn)]   // STARTED booted
    [InlineData(2, 1, WorkloadChange.Migrated)]    // STARTED migrated: arrived by live migration
    [InlineData(4, 1, WorkloadChange.Migrated)]    // RESUMED migrated
    [InlineData(3, 1, WorkloadChange.Gone)]        // SUSPENDED migrated: the source side, it left
    [InlineData(5, 3, WorkloadChange.Gone)]        // STOPPED migrated
    [InlineData(5, 1, WorkloadChange.PoweredOff)]  // STOPPED destroyed
    [InlineData(5, 0, WorkloadChange.PoweredOff)]  // STOPPED shutdown
    [InlineData(1, 0, WorkloadChange.Gone)]        // UNDEFINED
    [InlineData(0, 0, null)]                       // DEFINED: not running
    [InlineData(3, 0, null)]                       // SUSPENDED paused
    [InlineData(4, 0, null)]                       // RESUMED unpaused
    [InlineData(8, 0, null)]                       // CRASHED (a STOPPED follows)
    public void Lifecycle_events_translate_into_placement_facts(int type, int detail, WorkloadChange? expected) =>
        Assert.Equal(expected, LibvirtLifecycle.Translate(type, detail));

    [Fact]
    public void Options_name_every_mistake()
    {
        var errors = new LibvirtOptions
        {
            Connections = [new() { Uri = "kvm-02" }],
            AddressSources = ["Dhcp"],
            ReconnectMin = TimeSpan.FromSeconds(10),
            ReconnectMax = TimeSpan.FromSeconds(1),
            AddressRetryInterval = TimeSpan.Zero,
        }.Validate();

        Assert.Contains(errors, e => e.StartsWith("Watchers:Libvirt:Connections:0:Uri: 'kvm-02' is not a libvirt URI", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Watchers:Libvirt:AddressSources:0: 'Dhcp'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("ReconnectMin/ReconnectMax", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("AddressRetryInterval", StringComparison.Ordinal));
        Assert.Contains(new LibvirtOptions().Validate(), e => e.Contains("at least one connection", StringComparison.Ordinal));
    }

    public async Task InitializeAsync() => await Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null) await _run.WaitAsync(Patience);
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
