using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using LispMobility.Watchers.DataPlane;
using Microsoft.Extensions.Logging.Testing;

namespace LispMobility.Watchers.Tests.DataPlane;

/// <summary>
/// The sniffer on a Linux bridge, as in the netns lab and on KVM hosts: the bridge takes the lowest MAC of its ports, so its
/// MAC changes when a VM's port joins after the capture opened. Needs root, like <see cref="DataPlaneWatcherTests"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BridgeProbeTests : IAsyncLifetime
{
    private readonly string _id = Convert.ToHexString(Guid.NewGuid().ToByteArray().AsSpan(0, 4)).ToLowerInvariant();
    private readonly CancellationTokenSource _stop = new();
    private DataPlaneWatcher _watcher = null!;
    private Task _run = Task.CompletedTask;

    private string Bridge => "lmb" + _id;
    private string Port => "lmp" + _id;
    private string VmEnd => "lmv" + _id;
    private string VmNamespace => "lmw-b" + _id;

    public async Task InitializeAsync()
    {
        Run($"link add {Bridge} type bridge");
        Run($"link set {Bridge} up");
        Run($"netns add {VmNamespace}");
        Run($"link add {Port} type veth peer name {VmEnd}");
        Run($"link set {VmEnd} netns {VmNamespace}");
        Run($"-n {VmNamespace} addr add 10.79.0.2/24 dev {VmEnd}");
        Run($"-n {VmNamespace} link set {VmEnd} up");
        _watcher = new DataPlaneWatcher(new DataPlaneOptions { Interfaces = [Bridge], Site = "paris", HostName = "agent-1" }, new FakeLogger<DataPlaneWatcher>());
        _run = _watcher.RunAsync(new WorkloadEventStream(), _stop.Token);
        await _watcher.Ready.WaitAsync(TimeSpan.FromSeconds(5));
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(5));
        Run($"netns del {VmNamespace}", check: false);
        Run($"link del {Port}", check: false);
        Run($"link del {Bridge}", check: false);
        _stop.Dispose();
    }

    [Fact]
    public async Task A_vm_whose_port_joined_the_bridge_after_the_capture_opened_answers_the_liveness_probe()
    {
        // The VM arrives (a migration, a veth moved in): the bridge's MAC becomes its new port's.
        Run($"link set {Port} master {Bridge} up");

        Assert.True(await _watcher.IsAliveAsync(IPAddress.Parse("10.79.0.2"), CancellationToken.None));
        Assert.False(await _watcher.IsAliveAsync(IPAddress.Parse("10.79.0.9"), CancellationToken.None));
    }

    [Fact]
    public async Task A_probe_asked_for_as_the_watcher_starts_waits_for_its_capture_instead_of_reporting_silence()
    {
        Run($"link set {Port} master {Bridge} up");
        using var stop = new CancellationTokenSource();
        var starting = new DataPlaneWatcher(new DataPlaneOptions { Interfaces = [Bridge], Site = "paris", HostName = "agent-2" }, new FakeLogger<DataPlaneWatcher>());
        var run = starting.RunAsync(new WorkloadEventStream(), stop.Token);

        Assert.True(await starting.IsAliveAsync(IPAddress.Parse("10.79.0.2"), CancellationToken.None));

        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static void Run(string arguments, bool check = true)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException("could not start ip");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0) throw new InvalidOperationException($"'ip {arguments}' failed ({process.ExitCode}): {error.Trim()} — these tests need root and iproute2");
    }
}
