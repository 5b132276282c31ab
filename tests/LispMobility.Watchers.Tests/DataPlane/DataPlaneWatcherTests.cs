using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.Versioning;
using LispMobility.Watchers.DataPlane;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.DataPlane;

/// <summary>
/// The sniffer on the test-namespace end of a veth; the "VM" writes frames from its end inside a namespace the test
/// creates. Needs root (CI runs as root): without it the fixture throws and the tests fail, they do not pass.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class DataPlaneWatcherTests : IAsyncLifetime
{
    private static readonly TimeSpan ReportDeadline = TimeSpan.FromMilliseconds(100);
    private readonly VethNamespace _net = new();
    private readonly WorkloadEventStream _stream = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly FakeLogger<DataPlaneWatcher> _log = new();
    private readonly MacDirectory _directory = new();
    private DataPlaneWatcher _watcher = null!;
    private PacketSocket _vm = null!;
    private Task _run = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _watcher = new DataPlaneWatcher(
            new DataPlaneOptions { Interfaces = [_net.HostEnd], Site = "paris", HostName = "agent-1", ReportsPerSecond = 50, ReportBurst = 100, TableCapacity = 1024 },
            _log, directory: _directory);
        _run = _watcher.RunAsync(_stream, _stop.Token);
        await _watcher.Ready.WaitAsync(TimeSpan.FromSeconds(5));
        _vm = _net.OpenVmCard();
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(5));
        _vm?.Dispose();
        _net.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task Gratuitous_arp_is_reported_with_mac_ip_interface_and_site_within_100ms()
    {
        var ip = IPAddress.Parse("10.77.0.2");
        var (fact, latency) = await SendAndAwait(NeighborFrames.Arp(1, _net.VmMac, ip, ip), f => f.Addresses.Contains(ip));
        Assert.Equal(WorkloadChange.Discovered, fact.Change);
        Assert.Equal(("dataplane", "agent-1", "paris", _net.HostEnd), (fact.Source, fact.Host, fact.Site, fact.Interface));
        Assert.Equal([_net.VmMac], fact.Macs);
        Assert.Equal(VethNamespace.VmMacText, fact.WorkloadId);
        Assert.True(latency <= ReportDeadline, $"reported after {latency.TotalMilliseconds} ms");
    }

    [Fact]
    public void The_warm_up_reports_an_announce_as_a_watcher_of_the_site_would_and_leaves_this_watcher_untouched()
    {
        var mac = PhysicalAddress.Parse("02-00-00-00-00-01");

        var facts = DataPlaneWatcher.WarmUp("warm", mac, [IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8:ffff::10")]);

        Assert.Equal(["192.0.2.10", "2001:db8:ffff::10"], facts.SelectMany(f => f.Addresses).Select(a => a.ToString()));
        Assert.All(facts, f => Assert.Equal(("warm", WorkloadChange.Discovered, "dataplane", "02:00:00:00:00:01"), (f.Site, f.Change, f.Source, f.WorkloadId)));
        Assert.Empty(_directory.Lookup(mac));
        Assert.Equal(0, _watcher.Statistics.Reported);
        Assert.DoesNotContain(_log.Collector.GetSnapshot(), r => r.Message.Contains("02:00:00:00:00:01", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rarp_is_reported_with_the_addresses_known_for_its_mac_or_none()
    {
        _directory.Learn(new WorkloadObserved("vm-63", "web", [_net.VmMac], [IPAddress.Parse("10.0.0.42")], "esx", "paris",
            WorkloadChange.Discovered, "vcenter", 0));
        var (known, latency) = await SendAndAwait(NeighborFrames.Rarp(_net.VmMac), f => f.Macs.Contains(_net.VmMac));
        Assert.Equal([IPAddress.Parse("10.0.0.42")], known.Addresses);
        Assert.True(latency <= ReportDeadline, $"reported after {latency.TotalMilliseconds} ms");

        var stranger = PhysicalAddress.Parse("02-00-5E-99-99-99");
        var (unknown, _) = await SendAndAwait(NeighborFrames.Rarp(stranger), f => f.Macs.Contains(stranger));
        Assert.Empty(unknown.Addresses);
    }

    [Fact]
    public async Task Unsolicited_na_and_dad_are_reported_with_the_ipv6_address()
    {
        var na = IPAddress.Parse("2001:db8:77::2");
        var (fact, latency) = await SendAndAwait(NeighborFrames.UnsolicitedNeighborAdvertisement(_net.VmMac, na), f => f.Addresses.Contains(na));
        Assert.Equal([_net.VmMac], fact.Macs);
        Assert.True(latency <= ReportDeadline, $"reported after {latency.TotalMilliseconds} ms");

        var tentative = IPAddress.Parse("2001:db8:77::3");
        var (dad, _) = await SendAndAwait(NeighborFrames.NeighborSolicitation(_net.VmMac, tentative), f => f.Addresses.Contains(tentative));
        Assert.Equal([_net.VmMac], dad.Macs);
    }

    [Fact]
    public async Task First_ip_packet_of_an_unknown_host_is_reported_once_and_the_kernel_drops_its_next_ones()
    {
        var source = IPAddress.Parse("10.77.0.50");
        // A minimal IPv4/UDP datagram to the broadcast address, from the "VM".
        static byte[] From(string address) => Convert.FromHexString("ffffffffffff" + Convert.ToHexString(VethNamespace.VmMacBytes) + "0800"
            + "4500001c0000400040110000" + address + "0a4dffff" + "d43100350008" + "0000");
        var frame = From("0a4d0032");
        var (fact, latency) = await SendAndAwait(frame, f => f.Addresses.Contains(source));
        Assert.Equal([_net.VmMac], fact.Macs);
        Assert.True(latency <= ReportDeadline, $"reported after {latency.TotalMilliseconds} ms");

        // The capture thread rebuilds its kernel filter at most every 200 ms, at a frame or at its 200 ms receive timeout.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        var before = _watcher.Statistics;
        for (var i = 0; i < 5; i++) _vm.Send(frame);
        // A new sender's packet after them: by its report, the five would have been read had the kernel not dropped them.
        var other = IPAddress.Parse("10.77.0.51");
        await SendAndAwait(From("0a4d0033"), f => f.Addresses.Contains(other));
        Assert.Equal(before.Frames + 1, _watcher.Statistics.Frames);
        Assert.Equal(before.Reported + 1, _watcher.Statistics.Reported);
    }

    [Fact]
    public async Task Liveness_probe_gets_an_answer_from_a_live_host_and_none_from_a_silent_one()
    {
        _net.IpInside($"addr add 10.77.0.2/24 dev {_net.VmEnd}");
        _net.IpInside($"addr add 2001:db8:77::2/64 dev {_net.VmEnd} nodad");
        Assert.True(await _watcher.IsAliveAsync(IPAddress.Parse("10.77.0.2"), CancellationToken.None));
        Assert.True(await _watcher.IsAliveAsync(IPAddress.Parse("2001:db8:77::2"), CancellationToken.None));
        Assert.False(await _watcher.IsAliveAsync(IPAddress.Parse("10.77.0.9"), CancellationToken.None));
    }

    [Fact]
    public async Task Storm_of_10000_arp_frames_stays_within_the_rate_table_and_memory_bounds()
    {
        GC.Collect();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 10_000; i++)
        {
            var mac = new PhysicalAddress([2, 0, 0x5e, 0x20, (byte)(i >> 8), (byte)i]);
            var ip = new IPAddress(new byte[] { 10, 78, (byte)(i >> 8), (byte)i });
            _vm.Send(NeighborFrames.Arp(1, mac, ip, IPAddress.Parse("10.78.255.254")));
        }
        // Let the capture thread drain what the kernel queued.
        var stats = _watcher.Statistics;
        for (var quiet = 0; quiet < 5;)
        {
            await Task.Delay(100);
            var now = _watcher.Statistics;
            quiet = now.Frames == stats.Frames ? quiet + 1 : 0;
            stats = now;
        }
        var elapsed = clock.Elapsed;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        var reported = 0;
        while (_stream.Reader.TryRead(out _)) reported++;

        Assert.True(stats.Frames >= 1000, $"only {stats.Frames} frames captured");
        Assert.Equal(stats.Reported, reported);
        // Token bucket: burst 100 + 50/s.
        Assert.InRange(reported, 100, 100 + (int)(50 * elapsed.TotalSeconds) + 1);
        Assert.True(stats.Suppressed > 0);
        // The bounds: a 1024-entry table and its facts are far below 16 MB, and 10,000 small frames cost well under 5 s of CPU.
        Assert.True(memoryAfter - memoryBefore < 16 << 20, $"heap grew by {(memoryAfter - memoryBefore) >> 10} KiB");
        Assert.True(cpu < TimeSpan.FromSeconds(5), $"storm cost {cpu.TotalMilliseconds} ms of CPU");
        Assert.Contains("suppressed (RateLimited)", _log.Text(), StringComparison.Ordinal);
    }

    private async Task<(WorkloadObserved Fact, TimeSpan Latency)> SendAndAwait(byte[] frame, Func<WorkloadObserved, bool> match)
    {
        var sent = TimeProvider.System.GetTimestamp();
        _vm.Send(frame);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var fact = await _stream.Reader.ReadAsync(timeout.Token);
            if (match(fact)) return (fact, TimeProvider.System.GetElapsedTime(sent, fact.Timestamp));
        }
    }
}
