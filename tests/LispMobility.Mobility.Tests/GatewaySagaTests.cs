using System.Net;
using LispMobility.Fabric;
using LispMobility.Fabric.Credentials;
using LispMobility.Fabric.Http;
using LispMobility.Fabric.NxOs;
using LispMobility.Mobility.Configuration;
using LispMobility.Mobility.Persistence;
using LispMobility.TestSupport.Fakes;

namespace LispMobility.Mobility.Tests;

/// <summary>
/// The gateway step of a saga through the real NX-API driver against a fake NX-OS switch on loopback, the mapping system on
/// the simulated network.
/// </summary>
public sealed class GatewaySagaTests : IAsyncLifetime
{
    private static readonly GatewayOptions Gateway = new() { Vlan = 104, Interface = "Vlan104", VirtualIp = "172.16.0.1", PrefixLength = 16, FhrpVersion = 2, Group = 10 };

    // What a real NX-OS switch gets to configure the range's gateway from scratch: HSRPv2 group 10 → vMAC 0000.0c9f.f00a, proxy-ARP (across-subnet).
    private static readonly string ExpectedApply = Rpc("feature interface-vlan", "feature hsrp", "interface vlan 104", "no shutdown", "ip proxy-arp",
        "hsrp version 2", "hsrp 10", "ip 172.16.0.1", "mac-address 0000.0c9f.f00a");

    private readonly FakeNxApiSwitch _switch = new();
    private SimulatedMobilityLab _lab = null!;
    private NxApiDriver _driver = null!;

    public async Task InitializeAsync()
    {
        await _switch.StartAsync();
        _lab = SimulatedMobilityLab.Start();
        var secret = Path.Combine(Path.GetDirectoryName(_lab.Database)!, "nxapi-secret");
        await File.WriteAllTextAsync(secret, $"{_switch.Username}\n{_switch.Password}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _driver = new NxApiDriver(new NxApiOptions
        {
            Device = "dc2-leaf1", BaseAddress = _switch.BaseAddress, Credentials = new CredentialSource { SecretFile = secret },
            PinnedCertificateSha256 = DeviceTls.Sha256Of(_switch.Certificate), MaxRetryAttempts = 0, RequestTimeout = TimeSpan.FromSeconds(5),
        });
    }

    public async Task DisposeAsync()
    {
        _driver.Dispose();
        await _lab.DisposeAsync();
        await _switch.DisposeAsync();
    }

    private static string Rpc(params string[] commands) =>
        "[" + string.Join(",", commands.Select((c, i) => $$"""{"jsonrpc":"2.0","method":"cli","params":{"cmd":"{{c}}","version":1},"id":{{i + 1}}}""")) + "]";

    private MobilityCoordinator Coordinator() => _lab.Coordinator(options: _lab.MobilityOptions(Gateway),
        gateways: new Dictionary<string, IReadOnlyList<IGatewayDriver>> { [MobilityLab.Dc2] = [_driver] });

    [Fact]
    public async Task A_switch_that_fails_once_is_retried_and_gets_exactly_the_gateway_of_the_range()
    {
        var coordinator = Coordinator();
        _switch.FailNext(1, HttpStatusCode.ServiceUnavailable);

        var outcome = await coordinator.MoveAsync(new MoveIntent(IPAddress.Parse("172.16.5.1"), "web-1", null, MobilityLab.Dc2, "migration", "test"));

        Assert.True(outcome.Converged, outcome.Error);
        var requests = _switch.Requests;
        Assert.Equal(4, requests.Count); // failed read, read, apply, verify
        Assert.Single(requests, r => r.Body == ExpectedApply);
        Assert.All(requests, r => Assert.Equal(("POST", "/ins", "application/json-rpc"), (r.Method, r.Path, r.ContentType)));
        var svi = _switch.Svis[104];
        Assert.True(svi.NoShutdown && svi.ProxyArp);
        Assert.Equal(2, svi.HsrpVersion);
        Assert.Equal(("172.16.0.1", "0000.0c9f.f00a"), (svi.Groups[10].Ip, svi.Groups[10].MacAddress));
        Assert.Equal("gateway 172.16.0.1 / 0000.0c9f.f00a on 1 device(s), 1 change(s)", outcome.Steps.Single(s => s.Step == MoveStep.GatewaysConverged).Detail);

        // A second move into the same site finds the gateway in place: read and verify only, nothing applied.
        var second = await coordinator.MoveAsync(new MoveIntent(IPAddress.Parse("172.16.5.2"), "web-2", null, MobilityLab.Dc2, "migration", "test"));
        Assert.True(second.Converged, second.Error);
        Assert.Equal(6, _switch.Requests.Count);
        Assert.Contains("0 change(s)", second.Steps.Single(s => s.Step == MoveStep.GatewaysConverged).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_switch_that_refuses_a_line_fails_the_move_with_its_message_and_the_host_stays_registered()
    {
        var coordinator = Coordinator();
        _switch.RefusedLines["mac-address 0000.0c9f.f00a"] = "% Invalid command at '^' marker.";

        var outcome = await coordinator.MoveAsync(new MoveIntent(IPAddress.Parse("172.16.5.3"), "web-3", null, MobilityLab.Dc2, "migration", "test"));

        Assert.False(outcome.Converged);
        Assert.StartsWith("GatewaysConverged: ", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("dc2-leaf1", outcome.Error, StringComparison.Ordinal);
        Assert.Contains("% Invalid command at '^' marker.", outcome.Error, StringComparison.Ordinal);
        // StepAttempts: the first apply is the whole plan; NX-API stopped at the refused line, so each retry plans only what is still missing.
        var applies = _switch.Requests.Where(r => r.Body.Contains("\"method\":\"cli\"", StringComparison.Ordinal)).Select(r => r.Body).ToList();
        var retry = Rpc("interface vlan 104", "hsrp 10", "mac-address 0000.0c9f.f00a");
        Assert.Equal([ExpectedApply, retry, retry], applies);
        var journal = coordinator.Store.Move(outcome.Id)!;
        Assert.Equal((MoveState.Failed, MoveStep.GatewaysConverged, outcome.Error), (journal.State, journal.Step, journal.Error));
        Assert.Equal(MobilityLab.Dc2, _lab.HostRegistrationSite(IPAddress.Parse("172.16.5.3"))); // what was done is not silently undone, and the journal says where it stopped
    }
}
